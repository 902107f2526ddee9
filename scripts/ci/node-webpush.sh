#!/usr/bin/env bash
# Installs http_ece (Encrypted Content-Encoding for HTTP, RFC 8188, MIT,
# Node.js; the library the web-push npm package encrypts with) from the npm
# registry: the adapters/webpush cross-check test runs it with node to
# decrypt what our Web Push adapter encrypted, and to encrypt what our test
# push service (adapters/webpush/webpushtest) decrypts.
#
# Idempotent: installs once into ${CLOUDPOST_CACHE:-$HOME/.cache/cloudpost}/npm
# and does nothing when that prefix already holds the pinned version. Nothing
# goes into the repository. Needs node (>= 18) and npm; only the npm registry
# is contacted. Prints the prefix on its last line; the test finds it there
# (or through CLOUDPOST_NPM, another prefix holding node_modules/http_ece).
set -euo pipefail

VERSION="${HTTP_ECE_VERSION:-1.2.1}"
CACHE="${CLOUDPOST_CACHE:-$HOME/.cache/cloudpost}"
PREFIX="$CACHE/npm"
PKG="$PREFIX/node_modules/http_ece/package.json"
STAMP="$PREFIX/http_ece.version"

if [[ -f "$PKG" && -f "$STAMP" && "$(cat "$STAMP")" == "$VERSION" ]]; then
	echo "node-webpush.sh: http_ece $VERSION already installed at $PREFIX"
	echo "$PREFIX"
	exit 0
fi

command -v node >/dev/null || { echo "node-webpush.sh: node is not on PATH (apt-get install nodejs npm)" >&2; exit 1; }
command -v npm >/dev/null || { echo "node-webpush.sh: npm is not on PATH (apt-get install npm)" >&2; exit 1; }
mkdir -p "$PREFIX"
echo "node-webpush.sh: installing http_ece $VERSION with npm into $PREFIX (node $(node --version))..."
start=$(date +%s)
# A private package.json so npm never walks up into another project.
[[ -f "$PREFIX/package.json" ]] || echo '{"name":"cloudpost-npm","private":true}' >"$PREFIX/package.json"
npm install --prefix "$PREFIX" --no-audit --no-fund --omit=dev --loglevel=error "http_ece@$VERSION"
[[ -f "$PKG" ]] || { echo "node-webpush.sh: $PKG missing after npm install" >&2; exit 1; }
installed=$(node -p 'require(process.argv[1]).version' "$PKG")
[[ "$installed" == "$VERSION" ]] || { echo "node-webpush.sh: npm installed http_ece $installed, want $VERSION" >&2; exit 1; }
echo "$VERSION" >"$STAMP"
echo "node-webpush.sh: installed http_ece $VERSION at $PREFIX in $(( $(date +%s) - start ))s"
echo "$PREFIX"
