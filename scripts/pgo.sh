#!/usr/bin/env bash
# Makes cmd/flashstor/default.pgo, the CPU profile `go build` optimises the flashstor
# binary with (profile-guided optimisation, issue 11), from a mixed S3 workload: large and
# small PUTs (BenchmarkPutPathS3: aws-sdk-go-v2 against the epoll server over a 4-drive
# 2+2 layer, signed and unsigned) and GETs of 4 KiB and 64 MiB (BenchmarkGet4KiB,
# BenchmarkGet64MiB, epoll transport), each profiled on its own and merged. Client and
# server run in one test process; the client's functions are simply not in the binary,
# so PGO ignores them.
#
#   scripts/pgo.sh              writes cmd/flashstor/default.pgo
#   PGO_OUT=x.pgo scripts/pgo.sh
#
# The drives live under $TMPDIR; takes a few minutes on a busy 2-core machine.
set -euo pipefail
cd "$(dirname "$0")/.."

out=${PGO_OUT:-cmd/flashstor/default.pgo}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# -pgo=off: the profile is of the code as compiled without one, as the Go documentation
# recommends for a first profile and keeps a rebuild from feeding on itself.
go test -pgo=off -c -o "$work/s3.test" ./s3frontend/
run() {
	local name=$1 bench=$2 benchtime=$3
	"$work/s3.test" -test.run '^$' -test.bench "$bench" -test.benchtime "$benchtime" \
		-test.cpuprofile "$work/$name.prof" >"$work/$name.out"
	grep -E '^Benchmark' "$work/$name.out" || true
}
run put1m 'PutPathS3/1MiB/c(1|4)$' 5x
run put64m 'PutPathS3/64MiB/c4$' 2x
run get4k 'Get4KiB/epoll$' 20000x
run get64m 'Get64MiB/epoll$' 20x
go tool pprof -proto "$work"/put1m.prof "$work"/put64m.prof "$work"/get4k.prof "$work"/get64m.prof >"$out"
echo "wrote $out ($(wc -c <"$out") bytes)"
