# timed command (disk, tree, 3 destination(s), rsync)
rsync -a --inplace -W /work/main/bench/results/tmp/src/tree/ /work/main/bench/results/tmp/dst/1/bench/tree/ && rsync -a --inplace -W /work/main/bench/results/tmp/src/tree/ /work/main/bench/results/tmp/dst/2/bench/tree/ && rsync -a --inplace -W /work/main/bench/results/tmp/src/tree/ /work/main/bench/results/tmp/dst/3/bench/tree/ && sync
