# timed command (disk, big, 3 destination(s), cvv-full)
/work/main/bin/cvv -q -m full  /work/main/bench/results/tmp/src/big/big.bin /work/main/bench/results/tmp/dst/1/bench/big /work/main/bench/results/tmp/dst/2/bench/big /work/main/bench/results/tmp/dst/3/bench/big && sync
