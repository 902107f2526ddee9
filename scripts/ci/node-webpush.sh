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

# shellcheck source=../lib/npm-tool.sh
source "$(dirname "$0")/../lib/npm-tool.sh"
CACHE="${CLOUDPOST_CACHE:-$HOME/.cache/cloudpost}"
PREFIX="$CACHE/npm"
npm_tool node-webpush.sh http_ece "${HTTP_ECE_VERSION:-1.2.1}" "$PREFIX" "$PREFIX/http_ece.version"
