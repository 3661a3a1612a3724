# timed command (loop, tree, 3 destination(s), cvv-full)
/work/main/bin/cvv -q -m full  /work/main/bench/results/tmp/state/mnt/src/tree /work/main/bench/results/tmp/state/mnt/d1/bench/tree /work/main/bench/results/tmp/state/mnt/d2/bench/tree /work/main/bench/results/tmp/state/mnt/d3/bench/tree && sync
