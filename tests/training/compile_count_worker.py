"""Fine-tunes BERT-Tiny for 6 steps (3 host loops) on one device in a process of its own,
with XLA's dump on, and prints how many times the train step was compiled.

Usage: python -m tests.training.compile_count_worker VOCAB_FILE WORK_DIR
(XLA_FLAGS must be set before TensorFlow starts, hence the process.)
"""

import os
import sys


def main(vocab_file, work_dir):
    dump_dir = os.path.join(work_dir, "xla_dump")
    os.environ["XLA_FLAGS"] = f"--xla_dump_to={dump_dir}"
    from tfbert.tasks import load_config
    from tfbert.training import run_experiment

    train = os.path.join(work_dir, "train.csv")
    with open(train, "w", encoding="utf-8") as f:
        f.write("text,tone\n" + "".join(f"a good film {i},pos\nbad film {i},neg\n"
                                       for i in range(16)))
    config = load_config("classification", params_override=",".join([
        "task.model=bert_tiny_uncased", f"task.vocab_file={vocab_file}", "task.text_a=text",
        "task.label=tone", f"task.train_data.input_path={train}",
        "task.train_data.max_seq_length=16", "task.train_data.global_batch_size=4",
        "task.num_train_epochs=null", "trainer.train_steps=6", "trainer.steps_per_loop=2",
        "runtime.distribution_strategy=one_device", "runtime.jit_compile=true",
        "runtime.seed=1"]))
    run_experiment(config, os.path.join(work_dir, "model"), "train")
    modules = [name for name in os.listdir(dump_dir)
               if "train_step" in name and name.endswith("before_optimizations.txt")]
    print(f"train step compilations: {len(modules)}")


if __name__ == "__main__":
    main(*sys.argv[1:3])
