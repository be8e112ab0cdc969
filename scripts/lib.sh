# Shared helpers for the scripts in this folder; sourced, not run.

step() { printf '\n==> %s\n' "$*"; }

# apt_install installs Debian packages when running as root and any of them is missing.
apt_install() {
	local missing=()
	for p in "$@"; do
		dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	if [ "$(id -u)" -ne 0 ]; then
		echo "missing packages: ${missing[*]} (run as root, or: sudo apt-get install -y ${missing[*]})" >&2
		return 1
	fi
	step "apt-get install ${missing[*]}"
	DEBIAN_FRONTEND=noninteractive apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

STATICCHECK_VERSION=v0.8.2

# The Debian packages the tests drive: the FUSE tools, the tools run against the mount, the
# S3 clients run against the server, and readelf for the hardening check.
# iproute2: the cluster fault suite cuts a node off with network namespaces (ip netns).
TEST_PACKAGES=(fuse3 rsync git tar restic awscli s3cmd rclone binutils ca-certificates strace iproute2)

ensure_test_tools() {
	apt_install "${TEST_PACKAGES[@]}"
	if ! command -v staticcheck >/dev/null 2>&1; then
		step "go install staticcheck@${STATICCHECK_VERSION}"
		go install "honnef.co/go/tools/cmd/staticcheck@${STATICCHECK_VERSION}"
	fi
}

fuzz_once() {
	go test -run '^$' -fuzz "^${2}\$" -fuzztime "$3" "$1" >"$4" 2>&1
}

# run_fuzzers runs every fuzz target in the module for the given duration each, printing a
# target's whole output only when it fails.
run_fuzzers() {
	local fuzztime=$1 pkg target out
	out=$(mktemp)
	while read -r file; do
		pkg=$(dirname "$file")
		for target in $(grep -oE '^func (Fuzz[A-Za-z0-9_]+)\(' "$file" | sed -E 's/^func (Fuzz[A-Za-z0-9_]+)\(/\1/'); do
			printf 'fuzz %s %s: ' "$pkg" "$target"
			if fuzz_once "$pkg" "$target" "$fuzztime" "$out"; then
				tail -n 1 "$out"
			elif grep -q '^    context deadline exceeded$' "$out" && fuzz_once "$pkg" "$target" "$fuzztime" "$out"; then
				# The fuzzer can report the end of -fuzztime itself as a failure of the input
				# in flight ("context deadline exceeded", no failing input saved): run again.
				echo "(retried after a spurious deadline report)"; tail -n 1 "$out"
			else
				echo FAILED; cat "$out"; rm -f "$out"; return 1
			fi
		done
	done < <(grep -rlE '^func Fuzz' --include='*_test.go' . | sort)
	rm -f "$out"
}
