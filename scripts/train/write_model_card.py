#!/usr/bin/env python3
"""Write config/models/ternserve-kjv.json from the two training runs' results.json, the
converted GGUF files and the C++ engine's perplexities."""
import argparse
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import gguf_writer as gw  # noqa: E402


def gguf_memory(path):
    meta, tensors = gw.read_gguf(path)
    by_type = {}
    for name, (shape, gtype, data) in tensors.items():
        k = gw.TYPE_NAMES[gtype]
        by_type[k] = by_type.get(k, 0) + len(data)
    ternary = sum(len(d) for _, (s, t, d) in tensors.items() if t in (gw.GGML_I2_S, gw.GGML_TQ2_0))
    return {"file_bytes": os.path.getsize(path), "tensor_bytes_by_type": by_type,
            "ternary_weight_bytes": ternary}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ternary", required=True, help="results.json of the ternary run")
    ap.add_argument("--fp", required=True, help="results.json of the full-precision twin")
    ap.add_argument("--gguf", required=True, help="the shipped I2_S GGUF")
    ap.add_argument("--gguf-tq2", help="the same model as TQ2_0")
    ap.add_argument("--cpp-ppl-i2s", type=float)
    ap.add_argument("--cpp-ppl-tq2", type=float)
    ap.add_argument("--cpp-ppl-fp-twin", type=float)
    ap.add_argument("--tokenizer-check", help="one-line summary of check_tokenizer.py")
    ap.add_argument("--notes", default="")
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    tern = json.load(open(args.ternary))
    fp = json.load(open(args.fp))
    n = tern["n_params"]
    a = tern["architecture"]
    d, ff, hd = a["hidden_size"], a["intermediate_size"], a["hidden_size"] // a["num_attention_heads"]
    kv = a["num_key_value_heads"] * hd
    n_ternary = a["num_hidden_layers"] * (2 * d * d + 2 * d * kv + 3 * d * ff)
    card = {
        "name": "ternserve-kjv",
        "description": "A small BitNet b1.58 (2B-4T architecture family) model trained with "
                       "quantization-aware training on the King James Bible; the built-in default model.",
        "file": os.path.basename(args.gguf),
        "format": {"gguf_architecture": "bitnet-b1.58", "ternary_type": "I2_S (x86, 128-weight blocks)",
                   "token_embd": "F16 (tied output head)", "norms": "F32"},
        "architecture": tern["architecture"],
        "tokenizer": {"type": "byte-level BPE (GPT-2 byte map)", "pre_tokenizer": "gpt-2",
                      "vocab_size": tern["architecture"]["vocab_size"],
                      "special_tokens": ["<|begin_of_text|>", "<|end_of_text|>", "<|eot_id|>"],
                      "trained_on": "the training split of the corpus (scripts/train/bpe.py)",
                      "cpp_agreement": args.tokenizer_check},
        "corpus": {"source": "Debian bible-kjv: bible -f 'Gen1:1-Rev22:21', verse references stripped",
                   "heldout": "every 20th chapter (kjv-heldout.txt); the rest is training data",
                   "train_tokens": tern["train_tokens_unique"]},
        "heldout_perplexity_protocol": "encode the whole file without BOS; consecutive non-overlapping "
                                       "windows of context_length tokens (last partial window if >= 2 "
                                       "tokens); every token but a window's first is predicted; "
                                       "exp(mean NLL)",
        "ternary": {k: v for k, v in tern.items() if k not in ("loss_curve", "architecture")},
        "full_precision_twin": {k: v for k, v in fp.items() if k not in ("loss_curve", "architecture")},
        "quality_retention": {
            "heldout_ppl_ternary": tern["heldout_perplexity"],
            "heldout_ppl_full_precision": fp["heldout_perplexity"],
            "ratio_ternary_over_fp": round(tern["heldout_perplexity"] / fp["heldout_perplexity"], 4),
        },
        "weight_memory_bytes": {
            "ternary_gguf_i2_s": gguf_memory(args.gguf),
            "full_precision_fp16": 2 * n,
            "full_precision_fp32": 4 * n,
        },
        "cpp_engine_perplexity": {"i2_s": args.cpp_ppl_i2s, "tq2_0": args.cpp_ppl_tq2,
                                  "training_code_ternary": tern["heldout_perplexity"]},
        "loss_curve_ternary": tern["loss_curve"],
        "loss_curve_full_precision": fp["loss_curve"],
        "reproduce": "scripts/train/make_model.sh",
        "notes": args.notes,
    }
    if args.gguf_tq2 and os.path.exists(args.gguf_tq2):
        card["weight_memory_bytes"]["ternary_gguf_tq2_0"] = gguf_memory(args.gguf_tq2)
    card["n_params_breakdown"] = {"ternary_linear": n_ternary,
                                  "embedding_tied_head": a["vocab_size"] * d,
                                  "norms": n - n_ternary - a["vocab_size"] * d}
    with open(args.out, "w") as f:
        json.dump(card, f, indent=1)
        f.write("\n")
    print(json.dumps(card["quality_retention"]), json.dumps(card["cpp_engine_perplexity"]))


if __name__ == "__main__":
    main()
