#!/usr/bin/env bash
# Installs wrk (Debian package), the HTTP load generator `make load-mysql`
# uses and apps/loadtest's MySQL smoke test runs. Idempotent: does nothing
# when wrk is on PATH. Installing needs root: as another user it uses sudo
# when that works without a password (or can ask for one on a terminal),
# else it stops and prints the command to run. Prints wrk's path on its
# last line.
set -euo pipefail

if command -v wrk >/dev/null; then
	echo "wrk.sh: $(wrk -v 2>&1 | head -1 | cut -c1-60) already installed"
	command -v wrk
	exit 0
fi
SUDO=""
if [[ $(id -u) -ne 0 ]]; then
	if command -v sudo >/dev/null && { sudo -n true 2>/dev/null || [[ -t 2 ]]; }; then
		SUDO="sudo"
	else
		echo "wrk.sh: installing wrk needs root and sudo is not available without a password here;" >&2
		echo "wrk.sh: run once as root: sudo apt-get install wrk (or sudo bash scripts/ci/wrk.sh)" >&2
		exit 1
	fi
fi
start=$(date +%s)
# A stale package index is refreshed once if the first attempt fails.
if ! $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q wrk >/tmp/wrk-apt.log 2>&1; then
	$SUDO apt-get update -q >>/tmp/wrk-apt.log 2>&1
	$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q wrk >>/tmp/wrk-apt.log 2>&1 || {
		echo "wrk.sh: apt-get install wrk failed:" >&2
		tail -20 /tmp/wrk-apt.log >&2
		exit 1
	}
fi
echo "wrk.sh: installed wrk in $(( $(date +%s) - start ))s"
command -v wrk
