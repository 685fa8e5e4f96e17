"""Run in a subprocess by the tests (PyTorch and TensorFlow do not share a process
well): builds a random HuggingFace `BertModel`, saves it with `save_pretrained`
(config.json + model.safetensors) and its outputs on the given inputs.

Usage: python hf_reference.py CONFIG_JSON INPUTS_NPZ OUT_DIR
"""

import json
import sys

import numpy as np
import torch
import transformers


def main(config_path, inputs_path, out_dir):
    with open(config_path) as f:
        values = json.load(f)
    torch.manual_seed(0)
    model = transformers.BertModel(transformers.BertConfig(
        **values, attn_implementation="eager")).eval()
    with torch.no_grad():  # random biases and LayerNorm too, not only the initializers
        for parameter in model.parameters():
            parameter.normal_(0.0, 0.2)
    model.save_pretrained(out_dir, safe_serialization=True)
    torch.save(model.state_dict(), f"{out_dir}/pytorch_model.bin")  # the older format too
    inputs = np.load(inputs_path)
    with torch.no_grad():
        out = model(input_ids=torch.tensor(inputs["input_word_ids"], dtype=torch.long),
                    attention_mask=torch.tensor(inputs["input_mask"], dtype=torch.long),
                    token_type_ids=torch.tensor(inputs["input_type_ids"], dtype=torch.long))
    np.savez(f"{out_dir}/outputs.npz", sequence_output=out.last_hidden_state.numpy(),
             pooled_output=out.pooler_output.numpy())


if __name__ == "__main__":
    main(*sys.argv[1:])
