#!/usr/bin/env bash
# Installs versitygw (an S3-compatible gateway, Apache-2.0, Go), the real S3
# protocol server that the adapters/s3blob tests start in TestMain.
#
# Idempotent: builds it once with `go install` (only the Go module proxy is
# needed) into ${CLOUDPOST_CACHE:-$HOME/.cache/cloudpost}/bin and does nothing
# when that binary already has the pinned version. The binary never goes into
# the repository. Prints the binary's path on its last line; the tests find
# it there (or through CLOUDPOST_VERSITYGW, or on PATH).
set -euo pipefail

VERSION="${VERSITYGW_VERSION:-v1.8.0}"
CACHE="${CLOUDPOST_CACHE:-$HOME/.cache/cloudpost}"
BIN_DIR="$CACHE/bin"
BIN="$BIN_DIR/versitygw"
STAMP="$BIN_DIR/versitygw.version"

if [[ -x "$BIN" && -f "$STAMP" && "$(cat "$STAMP")" == "$VERSION" ]]; then
	echo "versitygw.sh: versitygw $VERSION already installed at $BIN"
	echo "$BIN"
	exit 0
fi

command -v go >/dev/null || { echo "versitygw.sh: go is not on PATH" >&2; exit 1; }
mkdir -p "$BIN_DIR"
echo "versitygw.sh: building versitygw $VERSION with go install (a few minutes the first time)..."
start=$(date +%s)
# A separate GOFLAGS-free build: the module is not part of cloudpost's go.mod.
GOBIN="$BIN_DIR" GOFLAGS= go install "github.com/versity/versitygw/cmd/versitygw@$VERSION"
echo "$VERSION" >"$STAMP"
echo "versitygw.sh: installed versitygw $VERSION at $BIN in $(( $(date +%s) - start ))s"
echo "$BIN"
