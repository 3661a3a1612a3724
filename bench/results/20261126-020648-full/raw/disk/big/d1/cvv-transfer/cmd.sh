# timed command (disk, big, 1 destination(s), cvv-transfer)
/work/main/bin/cvv -q -m transfer  /work/main/bench/results/tmp/src/big/big.bin /work/main/bench/results/tmp/dst/1/bench/big && sync
