#!/usr/bin/env bash
# Checks for moto_server (moto, the AWS service emulator, Apache-2.0, Python),
# which the adapters/snspush tests start in TestMain to play Amazon SNS
# mobile push (platform applications, endpoints, Publish).
#
# It installs nothing: moto comes with the machine's Python (moto 5.x on
# Python 3.11 here, e.g. through pyenv; `pip install 'moto[server]'` where a
# package index is reachable). It looks in CLOUDPOST_MOTO_SERVER, then PATH,
# then ~/.pyenv/shims, checks that the program runs and that moto is 5.x,
# and prints the program's path on its last line; the tests find it the
# same way (set CLOUDPOST_MOTO_SERVER to that path to pin it).
set -euo pipefail

WANT_MAJOR="${MOTO_MAJOR:-5}"

fail() {
	echo "moto.sh: $*" >&2
	echo "moto.sh: install moto with its server extra for Python 3 (pip install 'moto[server]>=5.2,<6'), or set CLOUDPOST_MOTO_SERVER to its moto_server" >&2
	exit 1
}

bin=""
if [[ -n "${CLOUDPOST_MOTO_SERVER:-}" ]]; then
	[[ -x "$CLOUDPOST_MOTO_SERVER" ]] || fail "CLOUDPOST_MOTO_SERVER=$CLOUDPOST_MOTO_SERVER is not an executable file"
	bin="$CLOUDPOST_MOTO_SERVER"
elif command -v moto_server >/dev/null 2>&1; then
	bin="$(command -v moto_server)"
elif [[ -x "$HOME/.pyenv/shims/moto_server" ]]; then
	bin="$HOME/.pyenv/shims/moto_server"
else
	fail "moto_server not found (CLOUDPOST_MOTO_SERVER, PATH, ~/.pyenv/shims)"
fi

# A pyenv shim exists for every installed Python version; it fails when the
# selected version has no moto. Running --help proves the program starts.
if ! out="$("$bin" --help 2>&1)"; then
	fail "$bin does not run: $(echo "$out" | tail -n 3)"
fi

# The interpreter of the program's script (its shebang; the real script
# when bin is a pyenv shim) tells moto's version.
script="$bin"
if grep -q 'pyenv' "$bin" 2>/dev/null && command -v pyenv >/dev/null 2>&1; then
	script="$(pyenv which moto_server 2>/dev/null || echo "$bin")"
fi
python=""
first="$(head -n 1 "$script" 2>/dev/null || true)"
if [[ "$first" == '#!'* ]]; then
	python="${first#\#!}"
	python="${python%% *}"
fi
version=""
if [[ -n "$python" && -x "$python" ]]; then
	version="$("$python" -c 'import moto; print(moto.__version__)' 2>/dev/null || true)"
fi
if [[ -z "$version" ]]; then
	echo "moto.sh: could not tell moto's version from $script; going on"
elif [[ "${version%%.*}" != "$WANT_MAJOR" ]]; then
	fail "$bin runs moto $version; the tests expect moto $WANT_MAJOR.x (their /moto-api/data.json reader follows its SNS model)"
else
	echo "moto.sh: moto $version ($python) at $bin"
fi
echo "$bin"
