#!/usr/bin/env bash
# bench-extract.sh: the end-to-end small-file benchmark of issue 11. Builds the flashstor
# binary of two revisions (default: fee0d74, before issue 11's work, and the working tree),
# starts each as a real server on 4 drive directories with its mount, and extracts the same
# tarball into each mount with tar, alternating the two for ROUNDS rounds; a local directory
# on the same file system is extracted in every round too, and copied with rsync --fsync
# (every file synced before the next: the limit of a durable close on this disk, if rsync
# is installed). Prints files/s of each, and new/old per round. Run as root (the servers
# mount directly).
#
#   scripts/bench-extract.sh [OLD_REV]
#
# Environment:
#   BENCH_DIR       where drives, mounts and builds go (default: a new directory in $TMPDIR,
#                   removed at the end; a BENCH_DIR given is kept, to look into);
#                   put it on the file system to measure (a journaled ext4 image, say)
#   BENCH_TREE      the directory tarred and extracted (default: $(go env GOROOT)/src)
#   BENCH_ROUNDS    rounds (default 3)
#   BENCH_DURABILITY  the mounts' --mount-durability (default close)
#   BENCH_NEW_ARGS  more arguments for the working tree's server (e.g. --drive-redo-log)
#   BENCH_COPY      how the tree goes into the mounts: tar (default: tar -x of the tarball)
#                   or rsync (rsync -a of the round's local extraction: a temporary file,
#                   its times and mode set, then a rename, for every file)
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
old_rev=${1:-fee0d74}
rounds=${BENCH_ROUNDS:-3}
durability=${BENCH_DURABILITY:-close}
copy=${BENCH_COPY:-tar}
case $copy in tar | rsync) ;; *) echo "BENCH_COPY: tar or rsync, not $copy" >&2; exit 2 ;; esac
[ "$copy" = tar ] || command -v rsync >/dev/null || { echo "BENCH_COPY=rsync: rsync is not installed" >&2; exit 2; }
tree=${BENCH_TREE:-$(go env GOROOT)/src}
dir=${BENCH_DIR:-$(mktemp -d "${TMPDIR:-/tmp}/bench-extract.XXXXXX")}
mkdir -p "$dir"

pids=()
mounts=()
cleanup() {
	for m in "${mounts[@]}"; do fusermount3 -u "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true; done
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
	git -C "$repo" worktree remove --force "$dir/old-src" 2>/dev/null || true
	# Each run's drives hold a few extractions of the tree: runs left behind filled the
	# image they measured on.
	if [ -z "${BENCH_DIR:-}" ]; then rm -rf "$dir"; fi
}
trap cleanup EXIT

echo "building $old_rev and the working tree into $dir" >&2
git -C "$repo" worktree add --detach -f "$dir/old-src" "$old_rev" >/dev/null 2>&1
(cd "$dir/old-src" && go build -o "$dir/flashstor-old" ./cmd/flashstor)
(cd "$repo" && go build -o "$dir/flashstor-new" ./cmd/flashstor)

tarball=$dir/tree.tar
tar -C "$(dirname "$tree")" -cf "$tarball" "$(basename "$tree")"
files=$(tar -tvf "$tarball" | grep -c '^-')
echo "tree $tree: $files files" >&2

# start NAME PORT: a server on its own drives with its mount at $dir/NAME/mnt.
start() {
	local name=$1 port=$2 mnt=$dir/$1/mnt
	mkdir -p "$dir/$name"/d{1,2,3,4} "$mnt"
	local extra=()
	# fee0d74 predates the flag: the default (close) is left implicit.
	[ "$durability" = close ] || extra=(--mount-durability "$durability")
	# shellcheck disable=SC2206 # BENCH_NEW_ARGS is split into words on purpose
	[ "$name" = new ] && extra+=(${BENCH_NEW_ARGS:-})
	"$dir/flashstor-$name" server --address "127.0.0.1:$port" --mount "$mnt" "${extra[@]}" \
		"$dir/$name/d{1...4}" >"$dir/$name/log" 2>&1 &
	pids+=($!)
	mounts+=("$mnt")
	for _ in $(seq 100); do # up to 10 s
		if grep -q " $mnt fuse" /proc/mounts; then
			mkdir "$mnt/bench"
			return
		fi
		sleep 0.1
	done
	echo "$name: the mount did not appear; its log:" >&2
	cat "$dir/$name/log" >&2
	exit 1
}
start old 19301
start new 19302

# extract INTO: files/s of one tar -x into INTO.
extract() {
	local into=$1 t0 t1
	mkdir -p "$into"
	t0=$(date +%s.%N)
	tar -C "$into" -xf "$tarball"
	t1=$(date +%s.%N)
	awk -v f="$files" -v a="$t0" -v b="$t1" 'BEGIN { print f / (b - a) }'
}

# copyin INTO: files/s of one copy of the tree into INTO, the BENCH_COPY way (round r's
# local extraction is the source of an rsync).
copyin() {
	[ "$copy" = tar ] && { extract "$1"; return; }
	local t0 t1
	t0=$(date +%s.%N)
	rsync -a "$dir/local-$r/" "$1/"
	t1=$(date +%s.%N)
	awk -v f="$files" -v a="$t0" -v b="$t1" 'BEGIN { print f / (b - a) }'
}

# synced INTO: files/s of copying the extracted local tree into INTO, each file fsynced.
synced() {
	command -v rsync >/dev/null || { echo 0; return; }
	local t0 t1
	t0=$(date +%s.%N)
	rsync -a --fsync "$dir/local-$r/" "$1/"
	t1=$(date +%s.%N)
	awk -v f="$files" -v a="$t0" -v b="$t1" 'BEGIN { print f / (b - a) }'
}

printf '%-6s %-6s %10s %12s %10s %10s %8s %10s\n' round load local local-fsync old new new/old new/fsync
for r in $(seq "$rounds"); do
	load=$(cut -d' ' -f1 /proc/loadavg)
	loc=$(extract "$dir/local-$r")
	locsync=$(synced "$dir/local-fsync-$r")
	if [ $((r % 2)) -eq 1 ]; then
		o=$(copyin "$dir/old/mnt/bench/x-$r")
		n=$(copyin "$dir/new/mnt/bench/x-$r")
	else
		n=$(copyin "$dir/new/mnt/bench/x-$r")
		o=$(copyin "$dir/old/mnt/bench/x-$r")
	fi
	printf '%-6s %-6s %10.0f %12.0f %10.0f %10.0f %8.2f %10.2f\n' "$r" "$load" "$loc" "$locsync" "$o" "$n" \
		"$(awk -v a="$n" -v b="$o" 'BEGIN { print a / b }')" "$(awk -v a="$n" -v b="$locsync" 'BEGIN { print (b > 0 ? a / b : 0) }')"
done
