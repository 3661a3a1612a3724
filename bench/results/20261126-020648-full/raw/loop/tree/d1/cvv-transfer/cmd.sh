# timed command (loop, tree, 1 destination(s), cvv-transfer)
/work/main/bin/cvv -q -m transfer  /work/main/bench/results/tmp/state/mnt/src/tree /work/main/bench/results/tmp/state/mnt/d1/bench/tree && sync
