# timed command (loop, tree, 1 destination(s), cvv-full)
/work/main/bin/cvv -q -m full  /work/main/bench/results/tmp/state/mnt/src/tree /work/main/bench/results/tmp/state/mnt/d1/bench/tree && sync
