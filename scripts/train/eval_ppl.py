#!/usr/bin/env python3
"""Held-out perplexity of a saved checkpoint (config.json + model.safetensors) with the
engine's protocol and numerics (see train.heldout_perplexity)."""
import argparse
import json
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import bpe  # noqa: E402
from convert_hf import SafeTensors  # noqa: E402
from model import BitNetLM  # noqa: E402
from train import heldout_perplexity  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("checkpoint")
    ap.add_argument("--file", required=True)
    ap.add_argument("--full-precision", action="store_true")
    ap.add_argument("--max-windows", type=int)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    cfg = json.load(open(os.path.join(args.checkpoint, "config.json")))
    model = BitNetLM(cfg, ternary=not args.full_precision)
    st = SafeTensors(args.checkpoint)
    hf = model.hf_state_dict()
    with torch.no_grad():
        lookup = {"model.embed_tokens.weight": model.embed_tokens.weight, "model.norm.weight": model.norm.weight}
        for i, L in enumerate(model.layers):
            p = f"model.layers.{i}."
            for n in ("q_proj", "k_proj", "v_proj", "o_proj"):
                lookup[p + f"self_attn.{n}.weight"] = getattr(L, n).weight
            lookup[p + "self_attn.attn_sub_norm.weight"] = L.attn_sub_norm.weight
            for n in ("gate_proj", "up_proj", "down_proj"):
                lookup[p + f"mlp.{n}.weight"] = getattr(L, n).weight
            lookup[p + "mlp.ffn_sub_norm.weight"] = L.ffn_sub_norm.weight
            lookup[p + "input_layernorm.weight"] = L.input_layernorm.weight
            lookup[p + "post_attention_layernorm.weight"] = L.post_attention_layernorm.weight
        assert set(lookup) == set(hf)
        for name, t in lookup.items():
            t.copy_(torch.from_numpy(np.array(st.float32(name))))
    tok = bpe.Tokenizer.from_json(os.path.join(args.checkpoint, "tokenizer.json"))
    ids = np.asarray(tok.encode(open(args.file, encoding="utf-8").read()), dtype=np.int32)
    ppl, n = heldout_perplexity(model, ids, cfg["max_position_embeddings"], max_windows=args.max_windows)
    print(f"tokens: {len(ids)}, scored: {n}")
    print(f"perplexity: {ppl:.4f}")


if __name__ == "__main__":
    main()
