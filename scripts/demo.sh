#!/usr/bin/env bash
# demo.sh: a real cvv run on generated sample data. Makes a few hundred MiB
# of random (incompressible) data — two large files and a tree of small ones
# — copies it to three destinations in full verification mode, then prints
# the hashes, checks them with the reference tool when it is installed, and
# shows the timings. Usage: scripts/demo.sh [WORKDIR] (default: a new
# directory under ${TMPDIR:-/tmp}); SIZE_MB sets the total (default 384).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
cvv=${CVV:-$here/bin/cvv}
work=${1:-$(mktemp -d "${TMPDIR:-/tmp}/cvv-demo.XXXXXX")}
size_mb=${SIZE_MB:-384}
mkdir -p "$work"
src=$work/source

if [ ! -d "$src" ]; then
	echo "demo: generating ${size_mb} MiB of random data in $src"
	mkdir -p "$src/clips/day 1" "$src/clips/day 2" "$src/audio"
	big=$(( size_mb * 3 / 8 ))
	head -c "${big}M" /dev/urandom >"$src/clips/day 1/A001_C001.mov"
	head -c "${big}M" /dev/urandom >"$src/clips/day 2/A002_C014.mov"
	small_total=$(( size_mb - 2 * big ))
	n=$(( small_total * 4 ))   # 256 KiB each
	for i in $(seq 1 "$n"); do
		head -c 262144 /dev/urandom >"$src/audio/take_$(printf %04d "$i").wav"
	done
	mkdir -p "$src/empty dir"
fi
rm -rf "$work/dest1" "$work/dest2" "$work/dest3"

echo "demo: cvv -m full --hash xxh3 --hash-file sums,mhl $src -> 3 destinations"
start=$(date +%s.%N)
# cvv prints a line per file (hundreds here): show the first few, count the
# files it wrote (hash lists, reports), and keep its summary.
"$cvv" -m full --hash xxh3 --hash-file sums,mhl "$src" "$work/dest1" "$work/dest2" "$work/dest3" |
	awk -v max=5 '
		/^cvv: wrote / { wrote++; next }
		/^cvv: / { last = last $0 "\n"; next }
		++n <= max { print; next }
		END {
			if (n > max) printf "  ... %d more file lines\n", n - max
			if (wrote) printf "  ... %d hash lists and reports written\n", wrote
			printf "%s", last
		}'
end=$(date +%s.%N)
awk -v s="$start" -v e="$end" -v mb="$size_mb" 'BEGIN { printf "demo: wall time %.2f s (%.0f MiB/s of source, three copies, verified)\n", e - s, mb / (e - s) }' 

echo "demo: hashes of the first destination (cvv hash):"
(cd "$work/dest1" && "$cvv" hash --hash xxh3 clips)
if command -v xxhsum >/dev/null; then
	echo "demo: xxhsum -c on the sums file written in dest3:"
	(cd "$work/dest3" && xxhsum -c ./*.xxh3 | tail -n 3)
fi
echo "demo: transfer report (HTML, and its CSV): $(ls "$work"/dest1/cvv-report-*.html)"
echo "demo: cvv verify against the ASC MHL record of dest2:"
"$cvv" verify -q "$work/dest2"
echo "demo: done; data in $work (remove it with: rm -rf '$work')"
