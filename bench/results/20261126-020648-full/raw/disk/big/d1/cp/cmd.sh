# timed command (disk, big, 1 destination(s), cp)
cp --reflink=never /work/main/bench/results/tmp/src/big/big.bin /work/main/bench/results/tmp/dst/1/bench/big && sync
