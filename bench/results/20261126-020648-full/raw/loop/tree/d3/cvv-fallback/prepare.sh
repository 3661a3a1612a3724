# before every run: remove the destinations, flush and drop caches
rm -rf /work/main/bench/results/tmp/state/mnt/d1/bench
rm -rf /work/main/bench/results/tmp/state/mnt/d2/bench
rm -rf /work/main/bench/results/tmp/state/mnt/d3/bench
mkdir -p /work/main/bench/results/tmp/state/mnt/d1/bench
mkdir -p /work/main/bench/results/tmp/state/mnt/d2/bench
mkdir -p /work/main/bench/results/tmp/state/mnt/d3/bench
sync
echo 3 > /proc/sys/vm/drop_caches
true
