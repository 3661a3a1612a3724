# timed command (loop, tree, 1 destination(s), rsync)
rsync -a --inplace -W /work/main/bench/results/tmp/state/mnt/src/tree/ /work/main/bench/results/tmp/state/mnt/d1/bench/tree/ && sync
