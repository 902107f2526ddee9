# npm_tool installs one pinned npm package into a prefix of its own under
# ${CLOUDPOST_CACHE:-$HOME/.cache/cloudpost}, for the scripts/ci/*.sh that
# install Node.js tools (cognito-local, http_ece, @redocly/cli). Sourced,
# not run (make services runs scripts/ci/*.sh only).
#
#   npm_tool SCRIPT PACKAGE VERSION PREFIX STAMP [FILE...]
#
# Does nothing when STAMP holds VERSION and every FILE (paths the caller
# needs, e.g. a bin) exists; otherwise runs `npm install --prefix PREFIX
# PACKAGE@VERSION` (only the npm registry is contacted; a private
# package.json keeps npm from walking up into another project), checks that
# npm installed exactly VERSION and every FILE, and writes STAMP. Prints
# PREFIX on its last line. Needs node and npm on PATH.
npm_tool() {
	local script=$1 package=$2 version=$3 prefix=$4 stamp=$5
	shift 5
	local pkg="$prefix/node_modules/$package/package.json" f ready=1
	for f in "$pkg" "$@"; do [[ -e "$f" ]] || ready=0; done
	if [[ $ready == 1 && -f "$stamp" && "$(cat "$stamp")" == "$version" ]]; then
		echo "$script: $package $version already installed at $prefix"
		echo "$prefix"
		return 0
	fi
	command -v node >/dev/null || { echo "$script: node is not on PATH (apt-get install nodejs npm)" >&2; return 1; }
	command -v npm >/dev/null || { echo "$script: npm is not on PATH (apt-get install npm)" >&2; return 1; }
	mkdir -p "$prefix"
	echo "$script: installing $package $version with npm into $prefix (node $(node --version))..."
	local start
	start=$(date +%s)
	[[ -f "$prefix/package.json" ]] || echo "{\"name\":\"cloudpost-$(basename "$prefix")\",\"private\":true}" >"$prefix/package.json"
	npm install --prefix "$prefix" --no-audit --no-fund --omit=dev --loglevel=error "$package@$version"
	for f in "$pkg" "$@"; do
		[[ -e "$f" ]] || { echo "$script: $f missing after npm install" >&2; return 1; }
	done
	local installed
	installed=$(node -p 'require(process.argv[1]).version' "$pkg")
	[[ "$installed" == "$version" ]] || { echo "$script: npm installed $package $installed, want $version" >&2; return 1; }
	echo "$version" >"$stamp"
	echo "$script: installed $package $version at $prefix in $(( $(date +%s) - start ))s"
	echo "$prefix"
}
