"""Run in a subprocess by the tests (PyTorch and TensorFlow do not share a process
well): HuggingFace's attention probabilities (`output_attentions=True`, eager
attention) of the BERT directory given, on the inputs given.

Usage: python hf_attentions.py HF_DIR INPUTS_NPZ OUT_NPZ
"""

import sys

import numpy as np
import torch
import transformers


def main(model_dir, inputs_path, out_path):
    model = transformers.BertModel.from_pretrained(model_dir, attn_implementation="eager").eval()
    inputs = np.load(inputs_path)
    with torch.no_grad():
        out = model(input_ids=torch.tensor(inputs["input_word_ids"], dtype=torch.long),
                    attention_mask=torch.tensor(inputs["input_mask"], dtype=torch.long),
                    token_type_ids=torch.tensor(inputs["input_type_ids"], dtype=torch.long),
                    output_attentions=True)
    np.savez(out_path, sequence_output=out.last_hidden_state.numpy(),
             **{f"layer_{i}": a.numpy() for i, a in enumerate(out.attentions)})


if __name__ == "__main__":
    main(*sys.argv[1:])
