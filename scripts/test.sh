#!/usr/bin/env bash
# The test command (README): installs what the tests need when it is missing, then runs the
# format and static checks, the race-detected test suite and short fuzz runs.
#
#   scripts/test.sh            everything
#   FUZZTIME=30s scripts/test.sh   longer fuzz runs
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/go/bin:$(go env GOPATH 2>/dev/null || echo /root/go)/bin"

# shellcheck source=scripts/lib.sh
source scripts/lib.sh
ensure_test_tools

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

step "go test -race"
go test -race -timeout 20m ./...

step "fuzz (${FUZZTIME:-10s} each)"
run_fuzzers "${FUZZTIME:-10s}"

step "all tests passed"
