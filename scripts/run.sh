#!/usr/bin/env bash
# The main job (README): builds flashstor, starts a server on local directories with the
# buckets mounted, and prints how to reach it. Stop it with Ctrl-C.
#
# Environment (all optional):
#   FLASHSTOR_DATA      where the drive directories go     (default ./.flashstor/data)
#   FLASHSTOR_DRIVES    how many drive directories         (default 4: one 2+2 erasure set)
#   FLASHSTOR_ADDRESS   the S3 endpoint address             (default 127.0.0.1:9000)
#   FLASHSTOR_MOUNT     the mount point, "" for none        (default ./.flashstor/mnt)
#   FLASHSTOR_AUDIT     the audit log file, "" for none     (default ./.flashstor/audit.log)
#   FLASHSTOR_CERTS     a certs directory: serve HTTPS      (default none: HTTP)
#   FLASHSTORE_RUN_USER / FLASHSTORE_RUN_GROUP               (started as root: drop to them)
#   FLASHSTORE_ROOT_USER / FLASHSTORE_ROOT_PASSWORD         (default: demo credentials)
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/go/bin"
# shellcheck source=scripts/lib.sh
source scripts/lib.sh

data=${FLASHSTOR_DATA:-$PWD/.flashstor/data}
drives=${FLASHSTOR_DRIVES:-4}
address=${FLASHSTOR_ADDRESS:-127.0.0.1:9000}
mnt=${FLASHSTOR_MOUNT-$PWD/.flashstor/mnt}
audit=${FLASHSTOR_AUDIT-$PWD/.flashstor/audit.log}
certs=${FLASHSTOR_CERTS:-}

mount_args=()
if [ -n "$mnt" ]; then
	if [ "$(id -u)" -eq 0 ] || command -v fusermount3 >/dev/null 2>&1; then
		[ "$(id -u)" -eq 0 ] && apt_install fuse3
		mkdir -p "$mnt"
		mount_args=(--mount "$mnt")
	else
		echo "fusermount3 is missing (Debian package fuse3): serving S3 without the mount" >&2
	fi
fi

step "build"
bash scripts/build.sh -o ./flashstor

extra_args=()
[ -n "$audit" ] && extra_args+=(--audit-file "$audit")
[ -n "$certs" ] && extra_args+=(--certs-dir "$certs")

mkdir -p "$data"
step "start"
exec ./flashstor server --address "$address" "${mount_args[@]}" "${extra_args[@]}" "$data/d{1...$drives}"
