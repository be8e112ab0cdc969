#!/usr/bin/env bash
# The hardened build of the flashstor binary, used by run.sh and the release build:
# a position-independent executable (-buildmode=pie), linked by the system linker with
# full RELRO and immediate binding (-z relro -z now), with -trimpath, and any C it links
# compiled with the stack protector, FORTIFY_SOURCE=3 and control-flow protection.
# scripts/check-hardening.sh verifies the result.
#
#   scripts/build.sh                     ./flashstor, version from git describe
#   scripts/build.sh -o DIR/flashstor    another output path
#   VERSION=1.2.3 scripts/build.sh       a version of your choosing
#
# Needs a C toolchain (gcc or clang, and binutils): external linking goes through it.
# A plain `go build ./cmd/flashstor` still works; it is just not hardened.
set -euo pipefail
cd "$(dirname "$0")/.."

out=./flashstor
while getopts "o:h" opt; do
	case $opt in
	o) out=$OPTARG ;;
	*) sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
	esac
done

version=${VERSION:-$(git describe --tags --always --dirty 2>/dev/null || echo dev)}

# Flags for C compiled by cgo. FORTIFY_SOURCE needs optimisation; -U first, since some
# compilers define it already and a redefinition warns.
cflags="-O2 -fstack-protector-strong -U_FORTIFY_SOURCE -D_FORTIFY_SOURCE=3"
case "$(go env GOARCH)" in
amd64 | 386) cflags+=" -fcf-protection" ;;
arm64) cflags+=" -mbranch-protection=standard" ;;
esac
linkflags="-Wl,-z,relro -Wl,-z,now"

export CGO_ENABLED=1
export CGO_CFLAGS="$cflags${CGO_CFLAGS:+ $CGO_CFLAGS}"
export CGO_LDFLAGS="$linkflags${CGO_LDFLAGS:+ $CGO_LDFLAGS}"

go build -trimpath -buildmode=pie \
	-ldflags "-linkmode=external -extldflags '$linkflags' -X main.version=$version" \
	-o "$out" ./cmd/flashstor
echo "built $out (version $version)"
