# timed command (loop, big, 1 destination(s), cp)
cp --reflink=never /work/main/bench/results/tmp/state/mnt/src/big/big.bin /work/main/bench/results/tmp/state/mnt/d1/bench/big && sync
