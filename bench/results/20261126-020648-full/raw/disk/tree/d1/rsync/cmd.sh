# timed command (disk, tree, 1 destination(s), rsync)
rsync -a --inplace -W /work/main/bench/results/tmp/src/tree/ /work/main/bench/results/tmp/dst/1/bench/tree/ && sync
