"""Run in a subprocess by test_extend_vocab (PyTorch and TensorFlow do not share a
process well): writes a tiny HuggingFace pre-training directory with its own
tokenizer files, or reads an extended one back through `transformers`.

Usage:
    python hf_vocab_worker.py make OUT_DIR VOCAB_FILE
    python hf_vocab_worker.py read SOURCE_DIR EXTENDED_DIR OUT_NPZ TEXT...
"""

import sys

import numpy as np
import torch
import transformers


def make(out_dir, vocab_file):
    with open(vocab_file, encoding="utf-8") as f:
        size = len(f.read().splitlines())
    torch.manual_seed(0)
    config = transformers.BertConfig(vocab_size=size, hidden_size=32, num_hidden_layers=2,
                                     num_attention_heads=2, intermediate_size=64,
                                     max_position_embeddings=32)
    model = transformers.BertForPreTraining(config).eval()
    with torch.no_grad():  # a random MLM bias, not the initializer's zeros
        model.cls.predictions.bias.normal_(0.0, 0.2)
    model.save_pretrained(out_dir, safe_serialization=True)
    transformers.BertTokenizerFast(vocab_file, do_lower_case=True).save_pretrained(out_dir)


def read(source, extended, out_npz, *texts):
    old = transformers.BertForPreTraining.from_pretrained(source).eval()
    new = transformers.BertForPreTraining.from_pretrained(extended).eval()
    tokenizer = transformers.AutoTokenizer.from_pretrained(extended)
    ids = [np.asarray(tokenizer(text)["input_ids"]) for text in texts]
    np.savez(out_npz, vocab_size=new.config.vocab_size,
             old_embeddings=old.bert.embeddings.word_embeddings.weight.detach().numpy(),
             new_embeddings=new.bert.embeddings.word_embeddings.weight.detach().numpy(),
             new_decoder=new.cls.predictions.decoder.weight.detach().numpy(),
             old_bias=old.cls.predictions.bias.detach().numpy(),
             new_bias=new.cls.predictions.bias.detach().numpy(),
             fast=tokenizer.is_fast, **{f"ids_{i}": x for i, x in enumerate(ids)})


if __name__ == "__main__":
    {"make": make, "read": read}[sys.argv[1]](*sys.argv[2:])
