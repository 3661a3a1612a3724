# timed command (disk, big, 1 destination(s), rsync)
rsync -a --inplace -W /work/main/bench/results/tmp/src/big/big.bin /work/main/bench/results/tmp/dst/1/bench/big && sync
