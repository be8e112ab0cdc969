#!/usr/bin/env bash
# Verifies with readelf (binutils) that a binary was built hardened, as scripts/build.sh
# does: a position-independent executable (ELF type DYN), a GNU_RELRO segment, and
# immediate binding (BIND_NOW in FLAGS, or NOW in FLAGS_1), which together make the
# relocation tables read-only after start-up (full RELRO).
#
#   scripts/check-hardening.sh BINARY
#
# Exits 0 when all three hold, 1 naming each one missing, 2 on a usage error.
set -euo pipefail

if [ $# -ne 1 ] || [ ! -f "$1" ]; then
	echo "usage: $0 BINARY" >&2
	exit 2
fi
bin=$1
if ! command -v readelf >/dev/null 2>&1; then
	echo "check-hardening: readelf not found (install binutils)" >&2
	exit 2
fi

fail=0
if ! readelf -hW "$bin" | grep -Eq '^ *Type: *DYN'; then
	echo "check-hardening: $bin is not position-independent (ELF type is not DYN)" >&2
	fail=1
fi
if ! readelf -lW "$bin" | grep -q 'GNU_RELRO'; then
	echo "check-hardening: $bin has no GNU_RELRO segment" >&2
	fail=1
fi
dynamic=$(readelf -dW "$bin")
if ! grep -Eq '\(FLAGS\) .*BIND_NOW|\(FLAGS_1\) .*Flags:.* NOW' <<<"$dynamic"; then
	echo "check-hardening: $bin does not bind immediately (no BIND_NOW, no FLAGS_1 NOW)" >&2
	fail=1
fi
if [ $fail -ne 0 ]; then
	exit 1
fi
echo "check-hardening: $bin: PIE, GNU_RELRO, BIND_NOW"
