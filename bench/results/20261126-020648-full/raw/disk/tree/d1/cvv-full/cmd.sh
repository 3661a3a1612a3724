# timed command (disk, tree, 1 destination(s), cvv-full)
/work/main/bin/cvv -q -m full  /work/main/bench/results/tmp/src/tree /work/main/bench/results/tmp/dst/1/bench/tree && sync
