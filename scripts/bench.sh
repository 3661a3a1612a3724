#!/usr/bin/env bash
# bench.sh: cvv against cp and rsync, measured the same way in the same run.
#
#   scripts/bench.sh [smoke|short|full|small|sweep|scale]     (default: short)
#
# Profiles (each setting can be overridden from the environment):
#
#   profile  BIG    TREE_FILES  SEQ     RUNS  DESTS   TARGETS                   about
#   smoke    16M    100         4x1M    1     1 3     disk tmpfs                < 1 minute, CI: checks the pipeline
#   short    512M   2000        100x8M  3     1 3     disk loop throttle        a few minutes (make bench)
#   full     2G     10000       300x8M  5     1 3     disk tmpfs loop throttle  about two hours (make bench-full)
#   small    -      10000       100000x4K 3   1 3     disk loop                 small files: files/s of cvv -m transfer against cp -a (issue 13)
#   sweep    1G     -           -       3     1 3     disk loop                 block size x queue depth (scripts/sweep.sh)
#   scale    10M empty files, one run each of cvv (copy, re-run, verify, hash), cp -a, rsync -a: files/s and peak RSS (scripts/scale.sh)
#
# Workloads (WORKLOADS): big (one file of BIG), tree (TREE_FILES files of
# spread sizes in nested directories) and seq (an image sequence: SEQ_FILES
# frames of SEQ_SIZE in one directory, the way cameras and VFX pipelines
# write them).
#
# Storage targets: disk (the filesystem of WORK, by default bench/results/tmp
# in this checkout), tmpfs (a dedicated tmpfs mount as root, /dev/shm
# otherwise), loop (root only: one loop device over tmpfs per source and
# destination, see scripts/loopdev.sh) and throttle (root only: the loop rig
# with 3 destinations, the last one's loop device throttled to THROTTLE_MBPS
# MB/s of writes by the cgroup v1 blkio controller, blkio.throttle.
# write_bps_device of the root group, so that page-cache writeback is held
# too; only the 3-destination cells of THROTTLE_WORKLOADS run there, with
# the contenders THROTTLE_TOOLS besides TOOLS).
#
# Fio limit: per target and destination count, a fio run (io_uring,
# O_DIRECT, 1 MiB, QD32) reads the source device while writing to each of
# the N destinations at once: WARMUP untimed runs of that mix, then
# FIO_MIXES kept ones (3; smoke 1: fio-mix-d<N>.json, fio-mix-d<N>.2.json,
# ...). The limit of a run is the slowest of its jobs, the limit for a
# copy the median over the kept runs.
#
# Contenders (TOOLS): per cell, each contender runs WARMUP untimed run(s),
# then its RUNS timed runs back to back (as hyperfine does): on this kind of
# VM a page-cache writer that runs first after a cache drop or after an
# O_DIRECT run pays seconds of page faults (the balloon driver hands memory
# back), and a cold run of cp is no fair measure. The order of the
# contenders rotates from cell to cell, so that drift hits them all alike:
#   cvv-transfer  cvv -m transfer
#   cvv-full      cvv -m full
#   cvv-fallback  cvv --engine fallback -m transfer
#   cvv-uring     cvv --engine uring -m transfer: where auto takes the
#                 portable engine (source and destinations on tmpfs), what
#                 io_uring would do (not in the default TOOLS)
#   cvv-direct    cvv -m transfer --write direct (every destination O_DIRECT)
#   cvv-buffered  cvv -m transfer --write buffered (every destination through
#                 the page cache): with cvv-direct, what --write auto chooses
#                 between (not in the default TOOLS)
#   cp            cp --reflink=never, once per destination
#   rsync         rsync -a --inplace -W, once per destination
#   cp-xxhsum     what a user scripts for a verified copy: cp to each
#                 destination, sync, drop the caches (as root), then xxhsum
#                 -H3 of the source and every copy (not in the default TOOLS)
#   cvv-cascade   cvv -m full, the last destination as --cascade (throttle
#                 rig); --json events appended to events.jsonl in the cell,
#                 the report reads the source_released times from them
#   cvv-noslow    cvv -m full without the last (slow) destination, events
#                 as cvv-cascade: the time the source would be released
#                 without the slow drive (throttle rig)
# The first untimed run of a cvv contender prints --json: its start event,
# kept as start.jsonl in the cell, says how each destination was written
# (direct or buffered, and why), and the report shows it. With WARMUP=0
# that is one extra run per target, destination count and contender,
# without the sync and the cache drop (the choice rests on the target's
# filesystems and devices, not on the workload).
# Before every run (hyperfine --prepare) the destinations are removed, and as
# root the page cache is dropped; `sync` runs inside the timed command. Each
# timed command runs under bench/cmd/rusage, which records CPU seconds and
# peak RSS next to hyperfine's JSON.
#
# Output: bench/results/<UTC date>-<profile>/ with report.md, summary.md (the
# section for the README), results.csv, targets.csv, throughput.png and raw/ (every hyperfine and fio JSON). The
# script exits non-zero if a contender fails or the report is incomplete.
#
# Environment: BIG (size, K/M/G), TREE_FILES, TREE_LARGE_MAX (largest of the
# few big tree files, default 64M), RUNS, DESTS ("1 3"), TARGETS
# ("disk tmpfs loop throttle"), TOOLS, WORKLOADS ("big tree seq"), SEQ_FILES,
# SEQ_SIZE, FIO_MIXES (kept fio mix runs per target and destination
# count, default 3), THROTTLE_MBPS (default 100), THROTTLE_WORKLOADS (default big),
# THROTTLE_TOOLS (default "cvv-cascade cvv-noslow"),
# WARMUP (untimed runs per contender and cell), CVV (binary; default:
# make build, bin/cvv), CVV_FLAGS (extra flags for every cvv run), WORK
# (scratch directory on the disk target), OUT (results directory), FIO=0
# (skip the fio baseline), FIO_MIB (fio file size in MiB, default: the
# largest workload, at most 1024), SEED, PERF=1 (after each cell's timed
# runs, one more under a whole-machine perf record: CPU by command, hottest
# symbols and block requests in the cell's perf.txt; the kept fio mix runs
# under it too, fio-mix-d<N>.perf.txt; PERF=keep keeps perf.data), DRY_RUN=1
# (print the plan and the expected duration, measure nothing).
set -euo pipefail

profile=${1:-short}
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
export GOFLAGS=${GOFLAGS:--ldflags=-checklinkname=0}

die() { echo "bench: $*" >&2; exit 1; }
log() { echo "bench: $*" >&2; }

# The scale profile measures files/s and memory, not throughput: a script
# of its own.
[ "$profile" = scale ] && exec "$repo/scripts/scale.sh"

case $profile in
smoke) d_big=16M d_files=100 d_large=2M d_seq=4 d_seqsize=1M d_runs=1 d_warmup=0 d_mixes=1 d_dests="1 3" d_targets="disk tmpfs" d_tools="cvv-transfer cvv-full cvv-fallback cp rsync" d_wl="big tree seq" ;;
short) d_big=512M d_files=2000 d_seq=100 d_runs=3 d_dests="1 3" d_targets="disk loop throttle" d_tools="cvv-transfer cvv-full cvv-fallback cp rsync" d_wl="big tree seq" ;;
full) d_big=2G d_files=10000 d_runs=5 d_dests="1 3" d_targets="disk tmpfs loop throttle" d_tools="cvv-transfer cvv-full cvv-fallback cp rsync" d_wl="big tree seq" ;;
small) d_big=16M d_files=10000 d_seq=100000 d_seqsize=4K d_runs=3 d_dests="1 3" d_targets="disk loop" d_tools="cvv-transfer cp" d_wl="seq tree" ;;
sweep)
	d_big=1G d_files=0 d_runs=3 d_dests="1 3" d_targets="disk loop" d_wl="big"
	d_tools=""
	for bs in ${SWEEP_BLOCK_SIZES:-256K 512K 1M 2M 4M 8M}; do
		for qd in ${SWEEP_QUEUE_DEPTHS:-4 8 16 32 64}; do d_tools+="cvv-bs$bs-qd$qd "; done
	done
	;;
*) die "unknown profile $profile (want smoke, short, full, small, sweep or scale)" ;;
esac
BIG=${BIG:-$d_big}
TREE_FILES=${TREE_FILES:-$d_files}
TREE_LARGE_MAX=${TREE_LARGE_MAX:-${d_large:-64M}}
SEQ_FILES=${SEQ_FILES:-${d_seq:-300}}
SEQ_SIZE=${SEQ_SIZE:-${d_seqsize:-8M}}
RUNS=${RUNS:-$d_runs}
WARMUP=${WARMUP:-${d_warmup:-1}}
FIO_MIXES=${FIO_MIXES:-${d_mixes:-3}}
[[ $FIO_MIXES =~ ^[1-9][0-9]*$ ]] || die "FIO_MIXES: $FIO_MIXES is not a whole number of runs"
THROTTLE_MBPS=${THROTTLE_MBPS:-100}
THROTTLE_WORKLOADS=${THROTTLE_WORKLOADS:-big}
THROTTLE_TOOLS=${THROTTLE_TOOLS-cvv-cascade cvv-noslow}
DESTS=${DESTS:-$d_dests}
TARGETS=${TARGETS:-$d_targets}
TOOLS=${TOOLS:-$d_tools}
WORKLOADS=${WORKLOADS:-$d_wl}
SEED=${SEED:-1}
WORK=${WORK:-$repo/bench/results/tmp}
stamp=$(date -u +%Y%m%d-%H%M%S)
OUT=${OUT:-$repo/bench/results/$stamp-$profile}
raw=$OUT/raw
root=0
[ "$(id -u)" -eq 0 ] && root=1

for p in "$WORK" "$OUT"; do
	[[ $p =~ ^[A-Za-z0-9_./+-]+$ ]] || die "path $p has characters the generated commands do not quote"
done
maxdests=0
for n in $DESTS; do
	[[ $n =~ ^[1-3]$ ]] || die "DESTS: $n (1 to 3 destinations)"
	maxdests=$((n > maxdests ? n : maxdests))
done
[[ $THROTTLE_MBPS =~ ^[1-9][0-9]*$ ]] || die "THROTTLE_MBPS: $THROTTLE_MBPS is not a whole number of MB/s"
# cell_wls TARGET and cell_dests TARGET: the workloads and destination
# counts measured on a target (the throttle rig only has 3-destination cells).
cell_wls() {
	local w out=""
	if [ "$1" != throttle ]; then echo "$WORKLOADS"; return; fi
	for w in $WORKLOADS; do [[ " $THROTTLE_WORKLOADS " == *" $w "* ]] && out+="$w "; done
	echo "$out"
}
cell_dests() { if [ "$1" = throttle ]; then echo 3; else echo "$DESTS"; fi; }
# cell_tools TARGET: the contenders of a target's cells.
cell_tools() { if [ "$1" = throttle ]; then echo "$TOOLS $THROTTLE_TOOLS"; else echo "$TOOLS"; fi; }

# --- tools -----------------------------------------------------------------
need=()
for t in hyperfine rsync fio; do command -v $t >/dev/null || need+=("$t"); done
if [ ${#need[@]} -gt 0 ]; then
	[ $root -eq 1 ] || die "missing ${need[*]}; install them (apt-get install ${need[*]}) or run as root"
	log "installing ${need[*]}"
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi

if [ "${DRY_RUN:-0}" != 0 ]; then
	raw=$(mktemp -d)/raw
fi
mkdir -p "$WORK/bin" "$raw/workloads"
# The harness is its own module (bench/go.mod): chart libraries stay out of the tool.
(cd "$repo/bench" && go build -o "$WORK/bin/" ./cmd/genworkload ./cmd/rusage ./cmd/benchreport)
if [ "${DRY_RUN:-0}" != 0 ]; then
	CVV=${CVV:-$repo/bin/cvv}
elif [ -z "${CVV:-}" ]; then
	make -s build
	CVV=$repo/bin/cvv
fi
[ -x "$CVV" ] || [ "${DRY_RUN:-0}" != 0 ] || die "cvv binary $CVV not found"
RUSAGE=$WORK/bin/rusage

# --- targets available -----------------------------------------------------
targets=()
for t in $TARGETS; do
	case $t in
	disk | tmpfs) targets+=("$t") ;;
	loop | throttle)
		if [ $root -eq 1 ] && command -v losetup >/dev/null && [ -e /dev/loop-control ]; then
			if [ $t = throttle ] && [ ! -w /sys/fs/cgroup/blkio/blkio.throttle.write_bps_device ]; then
				log "skipping the throttle target: needs the cgroup v1 blkio controller"
			else
				targets+=("$t")
			fi
		else
			log "skipping the $t target: needs root, losetup and /dev/loop-control"
		fi
		;;
	*) die "unknown target $t (want disk, tmpfs, loop or throttle)" ;;
	esac
done
[ ${#targets[@]} -gt 0 ] || die "no storage target to run on"

# --- workloads -------------------------------------------------------------
src_disk=$WORK/src
gen=("$WORK/bin/genworkload")
[ "${DRY_RUN:-0}" != 0 ] && gen+=(-n)
for w in $WORKLOADS; do
	case $w in
	big) "${gen[@]}" -kind big -size "$BIG" -seed "$SEED" -out "$src_disk/big" -stats "$raw/workloads/big.json" ;;
	tree) "${gen[@]}" -kind tree -files "$TREE_FILES" -large-max "$TREE_LARGE_MAX" -seed "$SEED" -out "$src_disk/tree" -stats "$raw/workloads/tree.json" ;;
	seq) "${gen[@]}" -kind seq -files "$SEQ_FILES" -size "$SEQ_SIZE" -seed "$SEED" -out "$src_disk/seq" -stats "$raw/workloads/seq.json" ;;
	*) die "unknown workload $w (want big, tree, seq)" ;;
	esac
done
wl_bytes() { sed -n 's/.*"bytes":\([0-9]*\).*/\1/p' "$raw/workloads/$1.json"; }
total_src=0 max_wl=0
for w in $WORKLOADS; do
	b=$(wl_bytes "$w")
	total_src=$((total_src + b))
	max_wl=$((b > max_wl ? b : max_wl))
done
mib() { echo $((($1 + 1048575) / 1048576)); }
fio_mib=${FIO_MIB:-$(($(mib "$max_wl") < 1024 ? $(mib "$max_wl") : 1024))}
[[ $fio_mib =~ ^[0-9]+$ ]] || die "FIO_MIB: $fio_mib is not a number of MiB"
[ "${FIO:-1}" = 0 ] && fio_mib=0

# --- plan and machine ------------------------------------------------------
json_list() { # json_list quote|num items...
	local q=$1 sep="" out="["
	shift
	for x in "$@"; do
		if [ "$q" = quote ]; then out+="$sep\"$x\""; else out+="$sep$x"; fi
		sep=,
	done
	echo "$out]"
}
read -r -a tools_arr <<<"$TOOLS"
read -r -a dests_arr <<<"$DESTS"
read -r -a wl_arr <<<"$WORKLOADS"
only=""
for t in "${targets[@]}"; do
	[ "$t" = throttle ] || continue
	read -r -a twl <<<"$(cell_wls throttle)"
	read -r -a ttl <<<"$THROTTLE_TOOLS"
	only=",\"only\":{\"throttle\":{\"workloads\":$(json_list quote "${twl[@]}"),\"dests\":[3],\"tools\":$(json_list quote "${ttl[@]}")}}"
done
cat >"$raw/plan.json" <<EOF
{"profile":"$profile","runs":$RUNS,"started":"$(date -u +%Y-%m-%dT%H:%M:%SZ)",
 "targets":$(json_list quote "${targets[@]}"),"workloads":$(json_list quote "${wl_arr[@]}"),
 "dests":$(json_list num "${dests_arr[@]}"),"tools":$(json_list quote "${tools_arr[@]}")$only}
EOF
{
	echo "kernel:  $(uname -srm)"
	echo "cpu:     $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//') x $(nproc) online"
	echo "memory:  $(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo)"
	echo "disk:    $(df -hT "$WORK" | awk 'NR==2 {print $2 " on " $1 ", " $3 " size"}') (WORK=$WORK)"
	dev=$(df --output=source "$WORK" | tail -1)
	if [ -e "/sys/block/$(basename "$dev")/queue/rotational" ]; then
		echo "         $(basename "$dev"): rotational=$(cat "/sys/block/$(basename "$dev")/queue/rotational"), scheduler=$(cat "/sys/block/$(basename "$dev")/queue/scheduler" 2>/dev/null)"
	fi
	echo "tmpfs:   $([ $root -eq 1 ] && echo "dedicated tmpfs mount" || echo /dev/shm)"
	echo "loop:    one loop device per source and destination, --direct-io=on, files in a tmpfs, ${MKFS:-ext4}"
	echo "throttle: the loop rig, writes to the third destination's device limited to $THROTTLE_MBPS MB/s (cgroup v1 blkio)"
	echo "caches:  $([ $root -eq 1 ] && echo "dropped before every run" || echo "NOT dropped (not root)"); $WARMUP untimed warm-up run(s) per contender and cell, then $RUNS timed back to back"
	echo "load:    at the start:$(uptime | sed 's/.*load average:/ load average/')"
	echo "cvv:     $CVV ($(git -C "$repo" rev-parse --short HEAD 2>/dev/null || echo unknown)$(git -C "$repo" diff --quiet 2>/dev/null || echo ", uncommitted changes")) ${CVV_FLAGS:-}"
	echo "tools:   $(cp --version | head -1); $(rsync --version | head -1 | awk '{print $1, $2, $3}'); $(hyperfine --version); $(fio --version)"
	echo "go:      $(go version | awk '{print $3}')"
	if [ "${DRY_RUN:-0}" = 0 ]; then
		# Which engine `auto` picks here (cvv-transfer and cvv-full use it;
		# on the tmpfs rig, where the source and destinations are in
		# memory, it takes the portable engine).
		head -c 1048576 /dev/urandom >"$WORK/probe.bin"
		rm -f "$WORK/probe.copy"
		echo "engine:  auto = $("$CVV" --json -q -m transfer "$WORK/probe.bin" "$WORK/probe.copy" | sed -n 's/.*"event":"start".*"engine":"\([a-z]*\)".*/\1/p') here; the portable engine on tmpfs"
		rm -f "$WORK/probe.bin" "$WORK/probe.copy"
	fi
} >"$raw/machine.txt"

# --- duration estimate -----------------------------------------------------
# Rough model, from runs on a 2-core VM: source MB/s per tool (cvv writes the
# destinations in parallel; cp and rsync one after the other; full mode reads
# every copy back) plus ~0.4 s per run for the cache drop and process start.
# In tenths of a second.
est=0
for tg in "${targets[@]}"; do
	for w in $(cell_wls "$tg"); do
		b=$(wl_bytes "$w")
		for n in $(cell_dests "$tg"); do
			for tool in $(cell_tools "$tg"); do
				case $tool in
				cvv-full | cvv-cascade) t=$((b * (2 * n + 1) / 2 / 60000000)) ;;
				cvv-fallback) t=$((b * n / 30000000)) ;;
				cp) t=$((b * n / 50000000)) ;;
				cp-xxhsum) t=$((b * n / 50000000 + b * (n + 1) / 100000000)) ;;
				rsync) t=$((b * n / 25000000)) ;;
				*) t=$((b * (n + 1) / 2 / 60000000)) ;;
				esac
				# The throttled destination takes its bytes at THROTTLE_MBPS.
				[ "$tg" = throttle ] && t=$((t + b / THROTTLE_MBPS / 100000))
				est=$((est + (RUNS + WARMUP) * (t + 4)))
			done
		done
	done
	est=$((est + total_src / 30000000 + 50))
done
log "profile $profile: ${#targets[@]} target(s) (${targets[*]}), workloads $WORKLOADS ($(mib "$total_src") MiB), dests $DESTS, $RUNS run(s), tools: $TOOLS"
log "expected duration: about $((est / 600 + 1)) minute(s) (rough model of this script; noisy machines take longer); results in $OUT"
if [ "${DRY_RUN:-0}" != 0 ]; then
	rm -rf "$raw"
	exit 0
fi

# --- target setup and teardown ---------------------------------------------
state=$WORK/state
tmpfs_dir=""
cleanup() {
	local rc=$?
	if [ -n "$tmpfs_dir" ] && mountpoint -q "$tmpfs_dir" 2>/dev/null; then umount "$tmpfs_dir" || true; fi
	[ -n "$tmpfs_dir" ] && rm -rf "$tmpfs_dir"
	throttle_off
	if [ $root -eq 1 ]; then "$repo/scripts/loopdev.sh" down "$state" || true; fi
	exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# need_memory MiB: refuse to fill RAM-backed storage beyond what is free.
need_memory() {
	local avail
	avail=$(awk '/MemAvailable/ {print int($2 / 1024)}' /proc/meminfo)
	[ "$avail" -gt $(($1 + 1024)) ] || die "target needs $1 MiB of RAM for tmpfs, only $avail MiB available (lower BIG or TREE_FILES)"
}

src_root="" dest_roots=()
setup_target() {
	local t=$1 i size
	dest_roots=()
	case $t in
	disk)
		src_root=$src_disk
		for i in 1 2 3; do dest_roots+=("$WORK/dst/$i"); done
		;;
	tmpfs)
		size=$(($(mib "$total_src") + fio_mib + maxdests * $(mib "$max_wl") * 11 / 10 + 256))
		need_memory "$size"
		if [ $root -eq 1 ]; then
			tmpfs_dir=$state/tmpfs
			mkdir -p "$tmpfs_dir"
			if mountpoint -q "$tmpfs_dir"; then umount "$tmpfs_dir"; fi
			mount -t tmpfs -o "size=${size}m" cvv-bench "$tmpfs_dir"
		else
			tmpfs_dir=/dev/shm/cvv-bench-$$
		fi
		src_root=$tmpfs_dir/src
		for i in 1 2 3; do dest_roots+=("$tmpfs_dir/dst/$i"); done
		copy_sources
		;;
	loop | throttle)
		# The source device also holds fio's read file.
		local specs=("src:$((($(mib "$total_src") + fio_mib) * 115 / 100 + 128))") nd=$maxdests
		[ "$t" = throttle ] && nd=3
		size=$((($(mib "$total_src") + fio_mib) * 115 / 100 + 128))
		for i in $(seq 1 "$nd"); do
			specs+=("d$i:$(($(mib "$max_wl") * 115 / 100 + 128))")
			size=$((size + $(mib "$max_wl") * 115 / 100 + 128))
		done
		need_memory "$size"
		"$repo/scripts/loopdev.sh" up "$state" "${specs[@]}" >&2
		src_root=$state/mnt/src
		for i in 1 2 3; do dest_roots+=("$state/mnt/d$i"); done
		copy_sources
		if [ "$t" = throttle ]; then throttle_on d3; fi
		;;
	esac
}
# throttle_on NAME: limit writes to the loop device of NAME (loopdev.sh) to
# THROTTLE_MBPS in the root blkio group, which holds every writer, the
# kernel's writeback included.
throttled=""
throttle_on() {
	local dev
	dev=$("$repo/scripts/loopdev.sh" list "$state" | awk -v n="$1" '$1 == n {print $2}')
	[ -n "$dev" ] || die "throttle: no loop device named $1"
	throttled=$(lsblk -dno MAJ:MIN "$dev" | tr -d ' ')
	echo "$throttled $((THROTTLE_MBPS * 1000000))" >/sys/fs/cgroup/blkio/blkio.throttle.write_bps_device
	log "target throttle: writes to $dev ($1, $throttled) limited to $THROTTLE_MBPS MB/s"
}
throttle_off() {
	[ -n "$throttled" ] || return 0
	echo "$throttled 0" >/sys/fs/cgroup/blkio/blkio.throttle.write_bps_device || true
	throttled=""
}
copy_sources() {
	mkdir -p "$src_root"
	for w in $WORKLOADS; do cp -a "$src_disk/$w" "$src_root/"; done
	sync
}
teardown_target() {
	case $1 in
	tmpfs)
		if [ $root -eq 1 ]; then umount "$tmpfs_dir"; fi
		rm -rf "$tmpfs_dir"
		tmpfs_dir=""
		;;
	loop | throttle)
		throttle_off
		"$repo/scripts/loopdev.sh" down "$state"
		;;
	disk) rm -rf "$WORK/dst" ;;
	esac
}

drop_caches() {
	sync
	if [ $root -eq 1 ]; then echo 3 >/proc/sys/vm/drop_caches; fi
}

# --- fio baseline ----------------------------------------------------------
fio_size=${fio_mib}M
run_fio() { # run_fio TARGET OUTDIR
	local t=$1 dir=$2 n i direct="" engine="" combo common=()
	mkdir -p "$dir"
	# tmpfs and some filesystems refuse O_DIRECT, some kernels or sandboxes
	# io_uring: take the first combination that works and say so (the report
	# shows the engine and direct flag of the baseline).
	for combo in "io_uring 1" "io_uring 0" "psync 1" "psync 0"; do
		read -r engine direct <<<"$combo"
		if fio --name=probe --filename="$src_root/fio.probe" --size=4M --rw=write --ioengine="$engine" \
			--direct="$direct" --bs=1M --iodepth=32 --output-format=json >/dev/null 2>&1; then
			break
		fi
		engine=""
	done
	rm -f "$src_root/fio.probe"
	if [ -z "$engine" ]; then
		log "fio on $t: no working ioengine, no baseline"
		return 0
	fi
	[ "$combo" = "io_uring 1" ] || log "fio on $t: io_uring with O_DIRECT refused, measuring with --ioengine=$engine --direct=$direct"
	common=(--ioengine="$engine" --direct="$direct" --bs=1M --iodepth=32 --size="$fio_size" --output-format=json)
	# Lay the read file out first, then read it with a cold cache.
	fio --name=layout --filename="$src_root/fio.dat" --rw=write "${common[@]}" >/dev/null
	drop_caches
	fio --name=read --filename="$src_root/fio.dat" --rw=read "${common[@]}" >"$dir/fio-read.json"
	# The limit of a copy: read the source device while writing to each of
	# N destinations at once.
	for n in $(cell_dests "$t"); do
		local mix=(--name=read --filename="$src_root/fio.dat" --rw=read)
		for i in $(seq 1 "$n"); do
			mkdir -p "${dest_roots[$((i - 1))]}"
			mix+=(--name="write$i" --filename="${dest_roots[$((i - 1))]}/fio.dat" --rw=write --end_fsync=1)
		done
		# WARMUP untimed mixes first, as for every contender: the first
		# writes into fresh pages of a loop device's or tmpfs's backing
		# memory pay this VM's balloon faults (a cold mix on the loop rig
		# measured 982 MB/s one morning and 3215 the same evening).
		# Then FIO_MIXES kept runs, fio-mix-d<N>.json, fio-mix-d<N>.2.json,
		# ...: the report takes the median of their limits (one mix of a
		# second or less moved by 30% within a morning on the disk).
		local w out
		for ((w = 0; w < WARMUP + FIO_MIXES; w++)); do
			out=/dev/null
			[ "$w" -eq "$WARMUP" ] && out=$dir/fio-mix-d$n.json
			[ "$w" -gt "$WARMUP" ] && out=$dir/fio-mix-d$n.$((w - WARMUP + 1)).json
			drop_caches
			if [ "$w" -eq "$WARMUP" ] && [ "${PERF:-0}" != 0 ]; then
				# With PERF=1, what the limit costs the machine.
				perf_run "$dir/fio-mix-d$n.perf.data" "$dir/fio-mix-d$n.perf.txt" "fio mix: read $src_root, write $n destination(s)" \
					fio "${common[@]}" "${mix[@]}" >"$out"
			else
				fio "${common[@]}" "${mix[@]}" >"$out"
			fi
			for i in $(seq 1 "$n"); do rm -f "${dest_roots[$((i - 1))]}/fio.dat"; done
		done
	done
	rm -f "$src_root/fio.dat"
	# Writes: one job per destination device on separate devices, else one.
	n=1
	case $t in loop) n=$maxdests ;; throttle) n=3 ;; esac
	local jobs=()
	for i in $(seq 1 "$n"); do
		mkdir -p "${dest_roots[$((i - 1))]}"
		jobs+=(--name="write$i" --filename="${dest_roots[$((i - 1))]}/fio.dat")
	done
	drop_caches
	fio --rw=write --end_fsync=1 "${common[@]}" "${jobs[@]}" >"$dir/fio-write.json"
	for i in $(seq 1 "$n"); do rm -f "${dest_roots[$((i - 1))]}/fio.dat"; done
}

# --- contenders ------------------------------------------------------------
# tool_cmd TOOL WORKLOAD N prints the shell command of one timed run
# (cell_dir: the cell's raw directory, for the event streams). With
# probe_out set, cvv prints its --json events into that file instead.
cell_dir=""
probe_out=""
tool_cmd() {
	local tool=$1 w=$2 n=$3 src dsts=() i c="" cvv="$CVV -q" out=""
	if [ -n "$probe_out" ]; then cvv="$CVV -q --json" out=" >$probe_out"; fi
	if [ "$w" = big ]; then src=$src_root/big/big.bin; else src=$src_root/$w; fi
	for i in $(seq 1 "$n"); do dsts+=("${dest_roots[$((i - 1))]}/bench/$w"); done
	case $tool in
	cvv-transfer) c="$cvv -m transfer ${CVV_FLAGS:-} $src ${dsts[*]}$out" ;;
	cvv-full) c="$cvv -m full ${CVV_FLAGS:-} $src ${dsts[*]}$out" ;;
	cvv-cascade) c="$CVV -q --json -m full ${CVV_FLAGS:-} $src ${dsts[*]:0:$((n - 1))} --cascade ${dsts[$((n - 1))]} >>$cell_dir/events.jsonl" ;;
	cvv-noslow) c="$CVV -q --json -m full ${CVV_FLAGS:-} $src ${dsts[*]:0:$((n - 1))} >>$cell_dir/events.jsonl" ;;
	cvv-fallback) c="$cvv --engine fallback -m transfer ${CVV_FLAGS:-} $src ${dsts[*]}$out" ;;
	cvv-uring) c="$cvv --engine uring -m transfer ${CVV_FLAGS:-} $src ${dsts[*]}$out" ;;
	cvv-direct) c="$cvv -m transfer --write direct ${CVV_FLAGS:-} $src ${dsts[*]}$out" ;;
	cvv-buffered) c="$cvv -m transfer --write buffered ${CVV_FLAGS:-} $src ${dsts[*]}$out" ;;
	cvv-bs*-qd*)
		local bs=${tool#cvv-bs} qd
		qd=${bs#*-qd} bs=${bs%-qd*}
		c="$cvv -m transfer --block-size $bs --queue-depth $qd ${CVV_FLAGS:-} $src ${dsts[*]}$out"
		;;
	cp | rsync | cp-xxhsum)
		for d in "${dsts[@]}"; do
			if [ "$tool" != rsync ]; then
				if [ "$w" = big ]; then c+="cp --reflink=never $src $d && "; else c+="cp -r --reflink=never $src $d && "; fi
			else
				if [ "$w" = big ]; then c+="rsync -a --inplace -W $src $d && "; else c+="rsync -a --inplace -W $src/ $d/ && "; fi
			fi
		done
		c=${c% && }
		if [ "$tool" = cp-xxhsum ]; then
			c+=" && sync && { [ ! -w /proc/sys/vm/drop_caches ] || echo 3 >/proc/sys/vm/drop_caches; }"
			c+=" && find $src ${dsts[*]} -type f -exec xxhsum -H3 {} + >/dev/null"
		fi
		;;
	*) die "unknown tool $tool" ;;
	esac
	echo "$c && sync"
}

# run_cell TARGET WORKLOAD N TOOL: WARMUP untimed runs of one contender,
# then RUNS timed runs back to back in one hyperfine call (runs.json).
step=0
total_steps=0
declare -A probed # target/dests/tool -> the start.jsonl recorded for it
for tg in "${targets[@]}"; do
	for w in $(cell_wls "$tg"); do
		for n in $(cell_dests "$tg"); do
			read -r -a ct <<<"$(cell_tools "$tg")"
			total_steps=$((total_steps + ${#ct[@]}))
		done
	done
done
run_cell() {
	local t=$1 w=$2 n=$3 tool=$4 cell i r
	cell=$raw/$t/$w/d$n/$tool
	cell_dir=$cell
	mkdir -p "$cell"
	{
		echo "# timed command ($t, $w, $n destination(s), $tool)"
		tool_cmd "$tool" "$w" "$n"
	} >"$cell/cmd.sh"
	{
		echo "# before every run: remove the destinations, flush and drop caches"
		for i in 1 2 3; do echo "rm -rf ${dest_roots[$((i - 1))]}/bench"; done
		for i in $(seq 1 "$n"); do echo "mkdir -p ${dest_roots[$((i - 1))]}/bench"; done
		echo sync
		[ $root -eq 1 ] && echo "echo 3 > /proc/sys/vm/drop_caches"
		echo true
	} >"$cell/prepare.sh"
	step=$((step + 1))
	# The first untimed run of a cvv contender records its start event.
	local untimed=$WARMUP probe="" prep=$cell/prepare.sh
	case $tool in
	cvv-cascade | cvv-noslow) ;;
	cvv-*)
		if [ "$WARMUP" = 0 ] && [ -n "${probed[$t/$n/$tool]:-}" ]; then
			# How cvv writes rests on the target's filesystems and devices,
			# not on the workload: without warm-up runs, one extra run per
			# target, destination count and contender records it.
			cp "${probed[$t/$n/$tool]}" "$cell/start.jsonl"
		else
			probe=$cell/probe.sh untimed=$((WARMUP > 0 ? WARMUP : 1))
			{
				echo "# untimed: as cmd.sh, with the --json events in probe.jsonl"
				probe_out=$cell/probe.jsonl tool_cmd "$tool" "$w" "$n"
			} >"$probe"
		fi
		if [ "$WARMUP" = 0 ] && [ -n "$probe" ]; then
			# A run only to record the write paths: no sync, no cache drop.
			prep=$cell/prepare-probe.sh
			grep -v -e '^sync$' -e drop_caches "$cell/prepare.sh" >"$prep"
			sed -i 's/ && sync$//' "$probe"
		fi
		;;
	esac
	for r in $(seq 1 "$untimed"); do
		local run=$cell/cmd.sh pre=$cell/prepare.sh
		if [ "$r" = 1 ] && [ -n "$probe" ]; then run=$probe pre=$prep; fi
		if ! { sh "$pre" && sh "$run"; } >"$cell/warmup$r.log" 2>&1; then
			cat "$cell/warmup$r.log" >&2
			die "$t $w d$n $tool warm-up run failed (command: $(tail -1 "$run"))"
		fi
	done
	if [ -n "$probe" ]; then
		grep -m1 '"event":"start"' "$cell/probe.jsonl" >"$cell/start.jsonl" || die "$t $w d$n $tool: no start event in $cell/probe.jsonl"
		rm -f "$cell/probe.jsonl"
		probed[$t/$n/$tool]=$cell/start.jsonl
	fi
	# The event streams count the timed runs only.
	rm -f "$cell/events.jsonl"
	if ! hyperfine -N --runs "$RUNS" --style none --output inherit --prepare "sh $cell/prepare.sh" \
		--command-name "$tool" --export-json "$cell/runs.json" \
		"$RUSAGE -o $cell/rusage.jsonl -- sh $cell/cmd.sh" >"$cell/runs.log" 2>&1; then
		cat "$cell/runs.log" >&2
		die "$t $w d$n $tool failed (command: $(tail -1 "$cell/cmd.sh"))"
	fi
	printf 'bench: [%d/%d] %-8s %-4s d%d %-14s %d run(s): %ss\n' "$step" "$total_steps" "$t" "$w" "$n" "$tool" "$RUNS" \
		"$(sed -n 's/.*"wall_s":\([0-9.]*\).*/\1/p' "$cell/rusage.jsonl" | cut -c1-6 | tr '\n' ' ')" >&2
	if [ "${PERF:-0}" != 0 ]; then perf_cell "$cell"; fi
}

# perf_cell CELL: with PERF=1, one more run of the cell's command, after
# its timed runs and with the same preparation, under perf_run, summed up
# in CELL/perf.txt. That run is not timed into the results; PERF=keep
# keeps its perf.data in the cell for perf report.
perf_cell() {
	local cell=$1 events=$1/events.jsonl
	# The event streams (cvv-cascade, cvv-noslow) count the timed runs
	# only: the perf run's events go to perf-events.jsonl.
	[ ! -e "$events" ] || mv "$events" "$events.timed"
	sh "$cell/prepare.sh" >/dev/null 2>&1
	perf_run "$cell/perf.data" "$cell/perf.txt" "$(tail -1 "$cell/cmd.sh")" sh "$cell/cmd.sh" >"$cell/perf-run.log" 2>&1 ||
		{ cat "$cell/perf-run.log" >&2; die "$cell: the run under perf failed"; }
	[ ! -e "$events" ] || mv "$events" "$cell/perf-events.jsonl"
	[ ! -e "$events.timed" ] || mv "$events.timed" "$events"
}

# perf_run DATA OUT TITLE COMMAND...: runs COMMAND under a whole-machine
# perf record (a cpu-clock sample per CPU millisecond, with call chains,
# and every block request issued) into DATA, and sums it up in OUT:
#   - CPU seconds by command over the whole machine: what a tool costs
#     beyond its own user+sys, such as the kernel's writeback (kworker)
#     that cp's page-cache writes leave to others, or the loop devices'
#     workers; swapper is idle time;
#   - the hottest symbols, by command, and where the time goes with call
#     chains included;
#   - the block requests by device and direction, with their mean size
#     and how often a device switched between reading and writing (a
#     request the driver sent back because its queue was full is counted
#     again when kblockd issues it anew).
# DATA is removed unless PERF=keep. COMMAND's output goes to stdout.
perf_run() {
	local data=$1 out=$2 title=$3 ev=(-c 1 -e cpu-clock/period=1000000/)
	shift 3
	command -v perf >/dev/null || die "PERF=1: perf is not installed (apt-get install linux-perf)"
	# (grep -c reads all of perf list's output: with grep -q, perf list
	# could die of SIGPIPE and pipefail would call the event missing.)
	if [ "$(perf list 2>/dev/null | grep -c 'block:block_rq_issue')" -gt 0 ]; then ev+=(-e block:block_rq_issue); fi
	perf record -q -a -g "${ev[@]}" -o "$data" -- "$@" || return 1
	# (The report has a section per event, and only the cpu-clock one is
	# about CPU. awk 'NR <= n' rather than head: under pipefail, a writer
	# killed by SIGPIPE when head stops reading would end the whole run.)
	local clock='/^# Samples:/ {on = /cpu-clock/} on'
	{
		echo "# $title"
		echo "# CPU seconds by command, whole machine ($(nproc) CPUs; swapper = idle; thread numbers dropped)"
		perf report -i "$data" --stdio --no-children --sort comm -F sample,comm -g none 2>/dev/null |
			awk "$clock" | awk '/^#/ || NF < 2 {next} {n = $1; $1 = ""; sub(/^ /, ""); sub(/-[0-9]+$/, ""); c[$0] += n}
				END {for (k in c) printf "%8.2f s  %s\n", c[k] / 1000, k}' | sort -rn | awk 'NR <= 15'
		echo "# hottest symbols (share of all CPU samples, idle included)"
		perf report -i "$data" --stdio --no-children --sort comm,dso,sym -g none --percent-limit 0.7 2>/dev/null |
			awk "$clock" | grep -v -e '^#' -e '^$' -e swapper | awk 'NR <= 40'
		echo "# where the time goes, call chains included (share of all CPU samples, idle included)"
		perf report -i "$data" --stdio --children --sort comm,sym -g none --percent-limit 2 2>/dev/null |
			awk "$clock" | grep -v -e '^#' -e '^$' -e swapper | awk 'NR <= 60'
		echo "# block requests issued: device, R(ead)/W(rite)/F(lush only), count, MiB, mean KiB, read-write switches on the device"
		perf script -i "$data" -G 2>/dev/null | awk '
			{ for (i = 1; i < NF && $i != "block:block_rq_issue:"; i++); if (i >= NF) next }
			{
				dev = $(i + 1); rwbs = $(i + 2); op = rwbs; sub(/^F/, "", op); op = substr(op, 1, 1)
				if (op != "R" && op != "W") { if (rwbs ~ /^F/) op = "F"; else next }
				k = dev " " op; n[k]++; b[k] += $(i + 3)
				if (op != "F") { if (last[dev] != "" && op != last[dev]) sw[dev]++; last[dev] = op }
			}
			END {
				for (k in n) { split(k, a, " "); printf "%-8s %s %8d %10.1f %8.1f %8d\n", a[1], a[2], n[k], b[k] / 1048576, b[k] / n[k] / 1024, sw[a[1]] }
			}' | sort
	} >"$out"
	[ "${PERF:-0}" = keep ] || rm -f "$data"
}

# --- the run ---------------------------------------------------------------
start=$(date +%s)
rot=0
for t in "${targets[@]}"; do
	log "target $t: setting up"
	setup_target "$t"
	if [ "${FIO:-1}" != 0 ] && [ "$profile" != sweep ]; then
		log "target $t: fio baseline ($fio_size)"
		run_fio "$t" "$raw/$t"
	fi
	for w in $(cell_wls "$t"); do
		for n in $(cell_dests "$t"); do
			# Rotate the contender order from cell to cell.
			read -r -a ct <<<"$(cell_tools "$t")"
			k=${#ct[@]}
			for j in $(seq 0 $((k - 1))); do
				run_cell "$t" "$w" "$n" "${ct[$(((j + rot) % k))]}"
			done
			rot=$((rot + 1))
		done
	done
	teardown_target "$t"
done
log "measured in $(($(date +%s) - start)) s"
echo "         at the end:$(uptime | sed 's/.*load average:/ load average/')" >>"$raw/machine.txt"

if [ "$profile" = sweep ]; then
	"$WORK/bin/benchreport" sweep -raw "$raw" -out "$OUT"
else
	link=$OUT
	case $OUT in "$repo"/*) link=${OUT#"$repo"/} ;; esac
	case $profile in smoke) again="scripts/bench.sh smoke" ;; short) again="make bench" ;; *) again="make bench-full" ;; esac
	"$WORK/bin/benchreport" report -raw "$raw" -out "$OUT" -link "$link" -reproduce "$again"
	for f in report.md summary.md results.csv targets.csv throughput.png; do
		[ -s "$OUT/$f" ] || die "report file $OUT/$f is missing"
	done
fi
log "done: $OUT"
