#!/usr/bin/env bash
# The test command (README): installs what the tests need when it is missing, then runs the
# format and static checks, the race-detected test suite, the long fault and crash matrices,
# and short fuzz runs of every parser.
#
#   scripts/test.sh                   everything (CI runs this)
#   FUZZTIME=30s scripts/test.sh      longer fuzz runs
#   QUICK=1 scripts/test.sh           skip the long matrices, the chaos soak and fuzzing
#   FLASHSTOR_CHAOS_DURATION=10m scripts/test.sh   a long chaos soak
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/go/bin:$(go env GOPATH 2>/dev/null || echo /root/go)/bin"

# shellcheck source=scripts/lib.sh
source scripts/lib.sh
start=$(date +%s)
ensure_test_tools

# Tests that drive external tools (rsync, restic, the aws CLI...) fail rather than skip
# when a tool is missing: this script installed them.
export FLASHSTOR_REQUIRE_TOOLS=1

step "gofmt"
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))
if [ -n "$unformatted" ]; then
	echo "gofmt would change:"; echo "$unformatted"; exit 1
fi

step "go vet"
go vet ./...

step "staticcheck"
staticcheck ./...

step "go build"
go build -o /dev/null ./cmd/flashstor

step "go test -race -short (every package)"
go test -race -short -timeout 15m ./...

# The mount's behaviour suites (the tests that mount through setup()) mount in close mode;
# they run once more in fsync mode, whose commits (write-behind, deferred syncs) differ
# (about 30 s, without the race detector).
step "fusefs in fsync mode (FLASHSTOR_TEST_MOUNT=fsync)"
FLASHSTOR_TEST_MOUNT=fsync go test -short -count=1 -timeout 10m ./fusefs/

# And once more on drives whose small commits go through their redo logs
# (--drive-redo-log; about 30 s).
step "fusefs on redo-log drives (FLASHSTOR_TEST_MOUNT=redo)"
FLASHSTOR_TEST_MOUNT=redo go test -short -count=1 -timeout 10m ./fusefs/

if [ -z "${QUICK:-}" ]; then
	# What -short leaves out: the full fault, crash and large-layout matrices, the CLI
	# clients, multi-GiB streams, 10,000 idle connections, the hardened build and the
	# privilege drop of a rebuilt binary. Without the race detector, whose 5-10x slowdown
	# would not fit.
	step "go test (the packages with tests -short skips, without -short)"
	# (The chaos soak has a step of its own, below.) Among them the cluster fault suite
	# (cmd/flashstor TestClusterFault*, a few minutes: four server processes killed,
	# paused, cut off with network namespaces, slowed, a commit held past a change of owner
	# with fencing and without, ~70 s each; iproute2 from TEST_PACKAGES).
	go test -timeout 20m $(grep -rl --include='*_test.go' --exclude=chaos_test.go 'testing.Short()' . | xargs -n1 dirname | sort -u)

	# On ext4 with a journal a put leaves its shards' durability to the metadata's one
	# journal commit (local's oneCommitFS, storage.WithSyncAtCommit); the tests above run in
	# the temporary directory, whose file system may have no journal (the development VM's
	# has none). The put's crash matrix runs again on a loop-mounted journaled ext4, and the
	# rename's (its redo/ cases: a drive's rename logged in its redo log; a few seconds).
	step "put crash matrix and redo log tests on ext4 with a journal"
	jdir=$(mktemp -d)
	if truncate -s 1G "$jdir/fs.img" && mkfs.ext4 -q -F "$jdir/fs.img" && mkdir "$jdir/mnt" &&
		mount -o loop "$jdir/fs.img" "$jdir/mnt"; then
		{ TMPDIR="$jdir/mnt" go test -count=1 -timeout 10m -run '^TestCrashDuringPut$|^TestRenameKeyCrash$' ./objstore/deploy/ &&
			TMPDIR="$jdir/mnt" go test -count=1 -timeout 5m -run 'RedoLog' ./objstore/storage/local/; } ||
			{ umount "$jdir/mnt"; rm -rf "$jdir"; exit 1; }
		umount "$jdir/mnt"
	else
		echo "skipped: cannot loop-mount an ext4 image here (not root, or no loop devices)"
	fi
	rm -rf "$jdir"

	# S3 and mount traffic under injected drive faults and kill -9 of the server, every
	# acknowledged write verified after (README, Guarantees). 60 s; longer with
	# FLASHSTOR_CHAOS_DURATION=10m.
	step "chaos soak (${FLASHSTOR_CHAOS_DURATION:-60s})"
	go test -timeout 60m -count=1 -run '^TestChaos$' -v ./cmd/flashstor/ | grep -v 'level=' | tail -n 40
	# The soak above runs the server with --drive-redo-log=false (the plain commit path,
	# and a drive can be remounted read-only); again with the redo logs, the server's
	# default: every kill -9 restarts through the redo.
	step "chaos soak with the drives' redo logs (30s)"
	FLASHSTOR_CHAOS_REDO_LOG=1 FLASHSTOR_CHAOS_DURATION=30s go test -timeout 10m -count=1 -run '^TestChaos$' -v ./cmd/flashstor/ | grep -v 'level=' | tail -n 20

	step "fuzz (${FUZZTIME:-3s} each)"
	run_fuzzers "${FUZZTIME:-3s}"
fi

step "all tests passed in $(( $(date +%s) - start ))s"
