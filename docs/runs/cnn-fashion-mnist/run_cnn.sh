#!/bin/bash
# The issue-15 real runs from a clean clone of main at 0fe1139 (+ benchmarks/cnn_accuracy.py),
# ours and PyTorch side by side, one thread each (2 cores shared with other work: OpenBLAS's
# spinning threads collapse when oversubscribed).
cd /work/runs/src
export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
date > /work/runs/started
( /usr/bin/time -v python -m tinygrad_drop compare --model cnn --out-dir /work/runs/cnn > /work/runs/ours.log 2> /work/runs/ours.err; date > /work/runs/ours_done ) &
( /usr/bin/time -v python -m benchmarks.cnn_accuracy --threads 1 --json /work/runs/torch_cnn.json > /work/runs/torch.log 2> /work/runs/torch.err; date > /work/runs/torch_done ) &
wait
