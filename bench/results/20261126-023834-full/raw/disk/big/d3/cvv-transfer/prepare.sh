# before every run: remove the destinations, flush and drop caches
rm -rf /work/main/bench/results/tmp/dst/1/bench
rm -rf /work/main/bench/results/tmp/dst/2/bench
rm -rf /work/main/bench/results/tmp/dst/3/bench
mkdir -p /work/main/bench/results/tmp/dst/1/bench
mkdir -p /work/main/bench/results/tmp/dst/2/bench
mkdir -p /work/main/bench/results/tmp/dst/3/bench
sync
echo 3 > /proc/sys/vm/drop_caches
true
