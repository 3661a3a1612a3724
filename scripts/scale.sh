#!/usr/bin/env bash
# scale.sh: many small files, cvv against cp -a and rsync -a, by files per
# second and peak RSS (it is bench.sh's scale profile: scripts/bench.sh scale).
#
#   scripts/bench.sh scale                       # 10M empty files (about an hour as root on tmpfs)
#   FILES=1000000 MAX_FILE=4K scripts/bench.sh scale
#
# The source is a "scale" workload (bench/cmd/genworkload): FILES files of
# MIN_FILE to MAX_FILE bytes (default 0: empty), 100 to 1000 entries per
# directory, at most 8 levels deep. Each contender copies it once to a new
# destination, under bench/cmd/rusage (wall, CPU, peak RSS of the largest
# process), `sync` inside the timing:
#   cvv          cvv -q -m MODE --hash-file sums,xxh,mhl SRC DST (MODES, default "transfer")
#   cvv-rerun    the same again into the finished DST: everything skipped
#   cvv-verify   cvv verify DST (against the ASC MHL history just written)
#   cvv-hash     cvv hash SRC > /dev/null
# (CVV_RUNS, default "rerun verify hash", picks the runs after the copy.)
#   cp           cp -a SRC DST
#   rsync        rsync -a SRC/ DST/ (incremental recursion: the memory anchor)
# A destination is removed as soon as its measurements are done.
#
# Storage: as root a tmpfs of TMPFS_SIZE (default 60% of RAM) mounted for
# the run and unmounted at the end; otherwise WORK (default
# bench/results/tmp). SRC puts the source elsewhere and keeps it: it is
# generated there unless SRC.cvv-scale (beside it) says it already holds this
# FILES/MIN_FILE/MAX_FILE/SEED workload (two trees of 10M files do not fit
# in a tmpfs of 24 GiB of RAM: each empty file costs about 1 KiB of kernel
# memory; keep the source on a disk and the copies on the tmpfs).
# Environment: FILES, MIN_FILE, MAX_FILE, MODES, TOOLS (default "cvv cp
# rsync"), CVV_RUNS, CVV (binary; default: make build, bin/cvv), CVV_FLAGS, SRC, WORK,
# OUT, SEED, TMPFS_SIZE.
#
# Output: bench/results/<UTC date>-scale/report.md (one row per run: files,
# wall s, files/s, user and sys CPU s, peak RSS MiB, exit status),
# rusage.jsonl and the logs. A benchmark reports; it fails only when a
# contender fails.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
export GOFLAGS=${GOFLAGS:--ldflags=-checklinkname=0}
die() { echo "scale: $*" >&2; exit 1; }
log() { echo "scale: $*" >&2; }

FILES=${FILES:-10000000}
MIN_FILE=${MIN_FILE:-0}
MAX_FILE=${MAX_FILE:-0}
MODES=${MODES:-transfer}
TOOLS=${TOOLS:-cvv cp rsync}
CVV_RUNS=${CVV_RUNS:-rerun verify hash}
SEED=${SEED:-1}
CVV_FLAGS=${CVV_FLAGS:-}
stamp=$(date -u +%Y%m%d-%H%M%S)
OUT=${OUT:-$repo/bench/results/$stamp-scale}
WORK=${WORK:-$repo/bench/results/tmp}
mkdir -p "$OUT" "$WORK"

mnt=
cleanup() {
	if [ -n "$mnt" ]; then
		umount "$mnt" 2>/dev/null || umount -l "$mnt" || true
		rmdir "$mnt" || true
	fi
}
trap cleanup EXIT
if [ "$(id -u)" -eq 0 ]; then
	mnt=$(mktemp -d "${TMPDIR:-/tmp}/cvv-scale.XXXXXX")
	size=${TMPFS_SIZE:-$(($(awk '/MemTotal/ {print $2}' /proc/meminfo) * 6 / 10))k}
	mount -t tmpfs -o "size=$size,nr_inodes=0" cvv-scale "$mnt"
	data=$mnt
else
	data=$WORK/scale
	mkdir -p "$data"
fi

(cd bench && go build -o "$WORK/bin/" ./cmd/genworkload ./cmd/rusage)
if [ -z "${CVV:-}" ]; then
	make -s build
	CVV=$repo/bin/cvv
fi
RUSAGE=$WORK/bin/rusage
src=${SRC:-$data/src}
want="files=$FILES min=$MIN_FILE max=$MAX_FILE seed=$SEED"
if [ -n "${SRC:-}" ] && [ -d "$src" ] && [ -f "$src.cvv-scale" ] && [ "$(cat "$src.cvv-scale")" = "$want" ]; then
	log "reusing the source in $src ($want)"
	cp "$src.cvv-scale.json" "$OUT/workload.json"
else
	rm -rf "$src"
	log "generating $FILES files of $MIN_FILE to $MAX_FILE bytes in $src"
	"$WORK/bin/genworkload" -kind scale -files "$FILES" -min-file "$MIN_FILE" -max-file "$MAX_FILE" \
		-seed "$SEED" -out "$src" -stats "$OUT/workload.json"
	if [ -n "${SRC:-}" ]; then
		# Beside the tree, not in it: the runs copy SRC whole.
		cp "$OUT/workload.json" "$src.cvv-scale.json"
		echo "$want" >"$src.cvv-scale"
	fi
fi

failed=0
# run LABEL COMMAND: one timed run, recorded in rusage.jsonl.
run() {
	local label=$1 cmd=$2
	log "$label: $cmd"
	if ! "$RUSAGE" -o "$OUT/rusage.jsonl" -label "$label" -- "$cmd && sync" >"$OUT/$label.log" 2>&1; then
		log "$label failed (see $OUT/$label.log)"
		failed=1
	fi
}
for tool in $TOOLS; do
	dst=$data/dst-$tool
	rm -rf "$dst"
	case $tool in
	cvv)
		for mode in $MODES; do
			rm -rf "$dst"
			run "cvv-$mode" "$CVV -q -m $mode --hash-file sums,xxh,mhl $CVV_FLAGS $src $dst"
			case " $CVV_RUNS " in *" rerun "*)
				run "cvv-$mode-rerun" "$CVV -q -m $mode --hash-file sums,xxh,mhl $CVV_FLAGS $src $dst" ;;
			esac
			case " $CVV_RUNS " in *" verify "*)
				run "cvv-verify-$mode" "$CVV verify $CVV_FLAGS $dst > /dev/null" ;;
			esac
		done
		case " $CVV_RUNS " in *" hash "*) run cvv-hash "$CVV hash $src > /dev/null" ;; esac
		;;
	cp) run cp "cp -a $src $dst" ;;
	rsync) run rsync "rsync -a $src/ $dst/" ;;
	*) die "unknown tool $tool (want cvv, cp or rsync)" ;;
	esac
	rm -rf "$dst"
done

files=$(sed -n 's/.*"files":\([0-9]*\).*/\1/p' "$OUT/workload.json")
{
	echo "# Scale: $files files of $MIN_FILE to $MAX_FILE bytes"
	echo
	echo "$(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg) at the end; copies on $([ -n "$mnt" ] && echo tmpfs || echo "$data"), source in $src."
	echo
	echo "| run | wall s | files/s | user s | sys s | peak RSS MiB | exit |"
	echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"
	while IFS= read -r line; do
		label=$(sed -n 's/.*"label":"\([^"]*\)".*/\1/p' <<<"$line")
		wall=$(sed -n 's/.*"wall_s":\([0-9.]*\).*/\1/p' <<<"$line")
		user=$(sed -n 's/.*"user_s":\([0-9.]*\).*/\1/p' <<<"$line")
		sys=$(sed -n 's/.*"sys_s":\([0-9.]*\).*/\1/p' <<<"$line")
		rss=$(sed -n 's/.*"maxrss_kib":\([0-9]*\).*/\1/p' <<<"$line")
		code=$(sed -n 's/.*"exit":\([0-9]*\).*/\1/p' <<<"$line")
		awk -v l="$label" -v w="$wall" -v f="$files" -v u="$user" -v s="$sys" -v r="$rss" -v c="$code" \
			'BEGIN { printf "| %s | %.1f | %.0f | %.1f | %.1f | %.1f | %s |\n", l, w, f / w, u, s, r / 1024, c }'
	done <"$OUT/rusage.jsonl"
} >"$OUT/report.md"
cat "$OUT/report.md"
log "results in $OUT"
exit $failed
