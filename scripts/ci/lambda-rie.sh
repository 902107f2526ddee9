#!/usr/bin/env bash
# Installs the AWS Lambda Runtime Interface Emulator (aws-lambda-rie), which
# the apps/lambda tests use to run the real `bootstrap` binary the way the
# Lambda service does (Runtime API, invoke over HTTP).
#
# Idempotent: builds it once with `go install` (only the Go module proxy is
# needed) into ${CLOUDPOST_CACHE:-$HOME/.cache/cloudpost}/bin and does nothing
# when that binary already has the pinned version. The binary never goes into
# the repository and the module never enters cloudpost's go.mod. Prints the
# binary's path on its last line; the tests find it there (or through
# CLOUDPOST_LAMBDA_RIE, or as aws-lambda-rie on PATH).
set -euo pipefail

MODULE="github.com/aws/aws-lambda-runtime-interface-emulator"
VERSION="${LAMBDA_RIE_VERSION:-v0.0.0-20261030222936-bef5c4ba774d}"
CACHE="${CLOUDPOST_CACHE:-$HOME/.cache/cloudpost}"
BIN_DIR="$CACHE/bin"
BIN="$BIN_DIR/aws-lambda-rie"
STAMP="$BIN_DIR/aws-lambda-rie.version"

if [[ -x "$BIN" && -f "$STAMP" && "$(cat "$STAMP")" == "$VERSION" ]]; then
	echo "lambda-rie.sh: aws-lambda-rie $VERSION already installed at $BIN"
	echo "$BIN"
	exit 0
fi

command -v go >/dev/null || { echo "lambda-rie.sh: go is not on PATH" >&2; exit 1; }
mkdir -p "$BIN_DIR"
echo "lambda-rie.sh: building aws-lambda-rie $VERSION with go install..."
start=$(date +%s)
# Built outside cloudpost's module (GOFLAGS cleared so -mod settings of the
# caller do not apply); CGO off gives a static binary like the released one.
GOBIN="$BIN_DIR" GOFLAGS= CGO_ENABLED=0 go install "$MODULE/cmd/aws-lambda-rie@$VERSION"
echo "$VERSION" >"$STAMP"
echo "lambda-rie.sh: installed aws-lambda-rie $VERSION at $BIN in $(( $(date +%s) - start ))s"
echo "$BIN"
