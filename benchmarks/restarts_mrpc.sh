#!/usr/bin/env bash
# MRPC from the real all-MiniLM-L6-v2 with 3 restarts (issue #22; the BERT paper's
# recipe for small data sets): 3 runs with seeds 1, 2, 3, each 3 epochs over the full
# MRPC train set, evaluated on the full dev set after each epoch, its best epoch kept
# (--keep_best=f1); the run with the best dev F1 is copied to best/. Run from the
# repository root:
#   bash benchmarks/restarts_mrpc.sh
# Writes benchmarks/out/restarts_mrpc/ (run_<seed>/, restarts.tsv, best/) and its log
# benchmarks/out/restarts_mrpc.log, the wall time at the end. Results: benchmarks/RESULTS.md.
# The config is official_configs/experiments/minilm_mrpc.yaml (batch 16, lr 5e-5, seq 128)
# with 3 epochs instead of its 5, and its fixed data seed dropped, so that each restart
# also sees the training data in its own order (task.train_data.seed = the run's seed).
set -euo pipefail
OUT=benchmarks/out/restarts_mrpc
mkdir -p "$(dirname "$OUT")"
start=$SECONDS
nice -n 5 python -m tfbert.cli.finetune --config_file=minilm_mrpc --mode=train_and_eval \
  --model_dir="$OUT" --num_train_epochs=3 --num_restarts=3 --keep_best=f1 \
  --params_override=task.train_data.seed=null >"$OUT.log" 2>&1
echo "wall_seconds = $((SECONDS - start))" | tee -a "$OUT.log"
cat "$OUT/restarts.tsv"
echo "best/:"
cat "$OUT/best/eval_results.txt"
