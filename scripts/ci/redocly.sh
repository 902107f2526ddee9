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

# shellcheck source=../lib/npm-tool.sh
source "$(dirname "$0")/../lib/npm-tool.sh"
CACHE="${CLOUDPOST_CACHE:-$HOME/.cache/cloudpost}"
PREFIX="$CACHE/npm-redocly"
npm_tool redocly.sh @redocly/cli "${REDOCLY_CLI_VERSION:-2.77.0}" "$PREFIX" "$PREFIX/redocly-cli.version" \
	"$PREFIX/node_modules/.bin/redocly"
