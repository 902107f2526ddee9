#!/usr/bin/env bash
# Installs @redocly/cli (the OpenAPI linter, MIT, Node.js) from the npm
# registry: `make lint-openapi` runs its `redocly lint` with the recommended
# ruleset (redocly.yaml) on apps/httpapi/internal/apidoc/openapi.yaml.
#
# Idempotent: installs once into
# ${CLOUDPOST_CACHE:-$HOME/.cache/cloudpost}/npm-redocly and does nothing when
# that prefix already holds the pinned version. Nothing goes into the
# repository. Needs node (>= 20.19 or >= 22.12) and npm; only the npm registry
# is contacted. Prints the prefix on its last line; the binary is
# node_modules/.bin/redocly under it.
set -euo pipefail

VERSION="${REDOCLY_CLI_VERSION:-2.77.0}"
CACHE="${CLOUDPOST_CACHE:-$HOME/.cache/cloudpost}"
PREFIX="$CACHE/npm-redocly"
PKG="$PREFIX/node_modules/@redocly/cli/package.json"
BIN="$PREFIX/node_modules/.bin/redocly"
STAMP="$PREFIX/redocly-cli.version"

if [[ -f "$PKG" && -x "$BIN" && -f "$STAMP" && "$(cat "$STAMP")" == "$VERSION" ]]; then
	echo "redocly.sh: @redocly/cli $VERSION already installed at $PREFIX"
	echo "$PREFIX"
	exit 0
fi

command -v node >/dev/null || { echo "redocly.sh: node is not on PATH (apt-get install nodejs npm)" >&2; exit 1; }
command -v npm >/dev/null || { echo "redocly.sh: npm is not on PATH (apt-get install npm)" >&2; exit 1; }
mkdir -p "$PREFIX"
echo "redocly.sh: installing @redocly/cli $VERSION with npm into $PREFIX (node $(node --version))..."
start=$(date +%s)
# A private package.json so npm never walks up into another project.
[[ -f "$PREFIX/package.json" ]] || echo '{"name":"cloudpost-npm-redocly","private":true}' >"$PREFIX/package.json"
npm install --prefix "$PREFIX" --no-audit --no-fund --omit=dev --loglevel=error "@redocly/cli@$VERSION"
[[ -f "$PKG" ]] || { echo "redocly.sh: $PKG missing after npm install" >&2; exit 1; }
[[ -x "$BIN" ]] || { echo "redocly.sh: $BIN missing after npm install" >&2; exit 1; }
installed=$(node -p 'require(process.argv[1]).version' "$PKG")
[[ "$installed" == "$VERSION" ]] || { echo "redocly.sh: npm installed @redocly/cli $installed, want $VERSION" >&2; exit 1; }
echo "$VERSION" >"$STAMP"
echo "redocly.sh: installed @redocly/cli $VERSION at $PREFIX in $(( $(date +%s) - start ))s"
echo "$PREFIX"
