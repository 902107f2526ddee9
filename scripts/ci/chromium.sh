#!/usr/bin/env bash
# Installs Debian's chromium for the web app's browser tests
# (examples/web/test, driven by playwright-core; Playwright's own browser
# download cannot work on these machines). apt caches the package like the
# other tools; nothing goes into the repository.
#
# Idempotent: does nothing when /usr/bin/chromium (or CLOUDPOST_CHROMIUM)
# already runs. Prints the browser's path on its last line.
set -euo pipefail

BIN="${CLOUDPOST_CHROMIUM:-/usr/bin/chromium}"
if [[ -x "$BIN" ]] && "$BIN" --version >/dev/null 2>&1; then
	echo "chromium.sh: $("$BIN" --version) already installed at $BIN"
	echo "$BIN"
	exit 0
fi

SUDO=""
[[ $(id -u) -eq 0 ]] || SUDO="sudo"
echo "chromium.sh: installing Debian's chromium with apt-get..."
start=$(date +%s)
# Another apt run (unattended upgrades) may hold the lock: wait, not fail.
$SUDO apt-get -o DPkg::Lock::Timeout=300 update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get -o DPkg::Lock::Timeout=300 install -y -qq --no-install-recommends chromium fonts-liberation >/dev/null
"$BIN" --version
echo "chromium.sh: installed in $(( $(date +%s) - start ))s"
echo "$BIN"
