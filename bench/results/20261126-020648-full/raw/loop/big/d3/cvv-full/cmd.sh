# timed command (loop, big, 3 destination(s), cvv-full)
/work/main/bin/cvv -q -m full  /work/main/bench/results/tmp/state/mnt/src/big/big.bin /work/main/bench/results/tmp/state/mnt/d1/bench/big /work/main/bench/results/tmp/state/mnt/d2/bench/big /work/main/bench/results/tmp/state/mnt/d3/bench/big && sync
