#!/usr/bin/env bash
# sweep.sh: the tuning sweep, block size x queue depth for `cvv -m transfer`
# on the single-device (disk) and separate-devices (loop, root only) targets,
# 1 and 3 destinations, big-file workload, interleaved rounds like
# scripts/bench.sh (it is bench.sh's sweep profile).
#
#   scripts/sweep.sh                       # 256K..8M x 4..64, BIG=1G, 3 runs (prints its expected duration)
#   SWEEP_BLOCK_SIZES="1M 4M" SWEEP_QUEUE_DEPTHS="8 32" RUNS=5 scripts/sweep.sh
#   DRY_RUN=1 scripts/sweep.sh             # plan and expected duration only
#
# Output: bench/results/<date>-sweep/sweep.md (one table per target and
# destination count: median source MB/s and CPU s/GiB per cell, the best in
# bold), sweep.csv and raw/. Pick defaults that win on both targets, then set
# cvv.DefaultBlockSize and cvv.DefaultQueueDepth (cvv.go) and the CLI flag
# defaults, and record the table in the README.
#
# Every other bench.sh variable applies (BIG, RUNS, DESTS, TARGETS, CVV, ...).
exec "$(dirname "$0")/bench.sh" sweep
