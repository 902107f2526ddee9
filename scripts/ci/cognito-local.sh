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

# shellcheck source=../lib/npm-tool.sh
source "$(dirname "$0")/../lib/npm-tool.sh"
CACHE="${CLOUDPOST_CACHE:-$HOME/.cache/cloudpost}"
PREFIX="$CACHE/cognito-local"
npm_tool cognito-local.sh cognito-local "${COGNITO_LOCAL_VERSION:-5.3.0}" "$PREFIX" "$PREFIX/cognito-local.version" \
	"$PREFIX/node_modules/cognito-local/lib/bin/start.js"
