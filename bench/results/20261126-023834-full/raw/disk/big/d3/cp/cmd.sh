# timed command (disk, big, 3 destination(s), cp)
cp --reflink=never /work/main/bench/results/tmp/src/big/big.bin /work/main/bench/results/tmp/dst/1/bench/big && cp --reflink=never /work/main/bench/results/tmp/src/big/big.bin /work/main/bench/results/tmp/dst/2/bench/big && cp --reflink=never /work/main/bench/results/tmp/src/big/big.bin /work/main/bench/results/tmp/dst/3/bench/big && sync
