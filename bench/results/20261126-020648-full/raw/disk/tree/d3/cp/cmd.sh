# timed command (disk, tree, 3 destination(s), cp)
cp -r --reflink=never /work/main/bench/results/tmp/src/tree /work/main/bench/results/tmp/dst/1/bench/tree && cp -r --reflink=never /work/main/bench/results/tmp/src/tree /work/main/bench/results/tmp/dst/2/bench/tree && cp -r --reflink=never /work/main/bench/results/tmp/src/tree /work/main/bench/results/tmp/dst/3/bench/tree && sync
