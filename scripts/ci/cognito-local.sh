#!/usr/bin/env bash
# Installs cognito-local (an Amazon Cognito user pool emulator, MIT, Node.js)
# from the npm registry: the adapters/cognitoauth tests start it in TestMain
# with `node <prefix>/node_modules/cognito-local/lib/bin/start.js`.
#
# Idempotent: installs once into ${CLOUDPOST_CACHE:-$HOME/.cache/cloudpost}/cognito-local
# and does nothing when that prefix already holds the pinned version. Nothing
# goes into the repository. Needs node (>= 18) and npm; only the npm registry
# is contacted. Prints the prefix on its last line; the tests find it there
# (or through CLOUDPOST_COGNITO_LOCAL, the path of start.js).
set -euo pipefail

VERSION="${COGNITO_LOCAL_VERSION:-5.3.0}"
CACHE="${CLOUDPOST_CACHE:-$HOME/.cache/cloudpost}"
PREFIX="$CACHE/cognito-local"
START="$PREFIX/node_modules/cognito-local/lib/bin/start.js"
STAMP="$PREFIX/cognito-local.version"

if [[ -f "$START" && -f "$STAMP" && "$(cat "$STAMP")" == "$VERSION" ]]; then
	echo "cognito-local.sh: cognito-local $VERSION already installed at $PREFIX"
	echo "$PREFIX"
	exit 0
fi

command -v node >/dev/null || { echo "cognito-local.sh: node is not on PATH (apt-get install nodejs npm)" >&2; exit 1; }
command -v npm >/dev/null || { echo "cognito-local.sh: npm is not on PATH (apt-get install npm)" >&2; exit 1; }
mkdir -p "$PREFIX"
echo "cognito-local.sh: installing cognito-local $VERSION with npm into $PREFIX (node $(node --version))..."
start=$(date +%s)
# A private package.json so npm never walks up into another project.
[[ -f "$PREFIX/package.json" ]] || echo '{"name":"cloudpost-cognito-local","private":true}' >"$PREFIX/package.json"
npm install --prefix "$PREFIX" --no-audit --no-fund --omit=dev --loglevel=error "cognito-local@$VERSION"
[[ -f "$START" ]] || { echo "cognito-local.sh: $START missing after npm install" >&2; exit 1; }
echo "$VERSION" >"$STAMP"
echo "cognito-local.sh: installed cognito-local $VERSION at $PREFIX in $(( $(date +%s) - start ))s"
echo "$PREFIX"
