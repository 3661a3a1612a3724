# timed command (disk, tree, 3 destination(s), cvv-transfer)
/work/main/bin/cvv -q -m transfer  /work/main/bench/results/tmp/src/tree /work/main/bench/results/tmp/dst/1/bench/tree /work/main/bench/results/tmp/dst/2/bench/tree /work/main/bench/results/tmp/dst/3/bench/tree && sync
