# timed command (disk, big, 1 destination(s), cvv-fallback)
/work/main/bin/cvv -q --engine fallback -m transfer  /work/main/bench/results/tmp/src/big/big.bin /work/main/bench/results/tmp/dst/1/bench/big && sync
