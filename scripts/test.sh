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

if [ -z "${QUICK:-}" ]; then
	# What -short leaves out: the full fault, crash and large-layout matrices, the CLI
	# clients, multi-GiB streams, 10,000 idle connections, the hardened build and the
	# privilege drop of a rebuilt binary. Without the race detector, whose 5-10x slowdown
	# would not fit.
	step "go test (the packages with tests -short skips, without -short)"
	# (The chaos soak has a step of its own, below.)
	go test -timeout 20m $(grep -rl --include='*_test.go' --exclude=chaos_test.go 'testing.Short()' . | xargs -n1 dirname | sort -u)

	# S3 and mount traffic under injected drive faults and kill -9 of the server, every
	# acknowledged write verified after (README, Guarantees). 60 s; longer with
	# FLASHSTOR_CHAOS_DURATION=10m.
	step "chaos soak (${FLASHSTOR_CHAOS_DURATION:-60s})"
	go test -timeout 60m -count=1 -run '^TestChaos$' -v ./cmd/flashstor/ | grep -v 'level=' | tail -n 40

	step "fuzz (${FUZZTIME:-3s} each)"
	run_fuzzers "${FUZZTIME:-3s}"
fi

step "all tests passed in $(( $(date +%s) - start ))s"
