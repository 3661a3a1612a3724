# timed command (disk, tree, 1 destination(s), cvv-fallback)
/work/main/bin/cvv -q --engine fallback -m transfer  /work/main/bench/results/tmp/src/tree /work/main/bench/results/tmp/dst/1/bench/tree && sync
