"""Domain vocabulary on the real all-MiniLM-L6-v2 (issue #23): time of
`tfbert_extend_vocab`, outputs before/after, and the golden tokenization.

    TFBERT_TEST_DATA=../shared/data python -m benchmarks.extend_vocab_minilm /tmp/ev

Prints the figures recorded in benchmarks/RESULTS.md ("Domain vocabulary").
"""

import json
import os
import subprocess
import sys
import time

import numpy as np

WORDS = ["ctenophore", "Huguenot", "bskyb", "westinghouse", "Melanchthon", "cydippid"]


def main(work):
    from tfbert.checkpoints import installed_minilm_dir, load_model
    from tfbert.text import BasicTokenizer, BertTokenizer

    data = os.environ.get("TFBERT_TEST_DATA", "../shared/data")
    os.makedirs(work, exist_ok=True)
    words_file = os.path.join(work, "words.txt")
    with open(words_file, "w", encoding="utf-8") as f:
        f.write("\n".join(WORDS) + "\n")
    source, out = installed_minilm_dir(), os.path.join(work, "minilm_domain")
    start = time.perf_counter()
    result = subprocess.run([sys.executable, "-m", "tfbert.cli.extend_vocab",
                             f"--input={source}", f"--words_file={words_file}",
                             f"--output_dir={out}"], capture_output=True, text=True, check=True)
    print(f"tfbert_extend_vocab wall time (process start included): "
          f"{time.perf_counter() - start:.1f} s")
    print(result.stdout.strip())

    reference = np.load(os.path.join(data, "models", "all-MiniLM-L6-v2_reference_outputs.npz"))
    inputs = {k: reference[k] for k in ("input_word_ids", "input_mask", "input_type_ids")}
    before, after = load_model(source)(inputs), load_model(out)(inputs)
    for key in ("sequence_output", "pooled_output"):
        diff = np.abs(np.asarray(before[key]) - np.asarray(after[key])).max()
        print(f"{key}: max |after - before| over {len(reference['sentences'])} sentences "
              f"= {diff}")

    with open(os.path.join(data, "tokenization_golden", "uncased_dev.jsonl"),
              encoding="utf-8") as f:
        rows = [json.loads(line) for line in f]
    texts = [row["text"] for row in rows]
    tokenizer = BertTokenizer(os.path.join(out, "vocab.txt"))
    added = tuple(w.lower() for w in WORDS)
    same = changed = explained = 0
    for start in range(0, len(texts), 512):
        batch = texts[start:start + 512]
        ids = tokenizer.tokenize(batch).to_list()
        words = BasicTokenizer().tokenize(batch).to_list()
        for got, row, text_words in zip(ids, rows[start:start + 512], words, strict=True):
            if got == row["ids"]:
                same += 1
                continue
            changed += 1
            explained += any(w.decode().startswith(added) for w in text_words)
    print(f"golden texts: {len(rows)}; same ids {same}; changed {changed}, of which "
          f"{explained} contain a word beginning with an added word")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "/tmp/extend_vocab_minilm")
