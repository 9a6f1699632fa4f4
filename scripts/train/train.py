#!/usr/bin/env python3
"""Train the small ternary (BitNet b1.58) KJV model, or its full-precision twin.

  nice -n 10 /usr/bin/python3 scripts/train/train.py --out /tmp/ternserve-train/ternary
  nice -n 10 /usr/bin/python3 scripts/train/train.py --out /tmp/ternserve-train/fp --full-precision

Writes a Hugging Face-style checkpoint (config.json, model.safetensors with f32 master
weights, tokenizer.json, tokenizer_config.json), train.log, and results.json with the
held-out perplexity computed under the engine's protocol and numerics.
"""
import argparse
import json
import math
import os
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bpe  # noqa: E402
import safetensors_np  # noqa: E402
from model import BitNetLM  # noqa: E402

CHAT_TEMPLATE = (
    "{{ bos_token }}{% for message in messages %}"
    "{{ message['role'] | capitalize }}: {{ message['content'] }}<|eot_id|>"
    "{% endfor %}{% if add_generation_prompt %}Assistant: {% endif %}")


def model_config(args, vocab_size, tok):
    return {
        "architectures": ["BitNetForCausalLM"], "model_type": "bitnet",
        "vocab_size": vocab_size, "hidden_size": args.d_model,
        "intermediate_size": args.ffn, "num_hidden_layers": args.layers,
        "num_attention_heads": args.heads, "num_key_value_heads": args.kv_heads,
        "max_position_embeddings": args.ctx, "hidden_act": "relu2",
        "rms_norm_eps": 1e-5, "rope_theta": args.rope_theta, "tie_word_embeddings": True,
        "bos_token_id": tok.bos_id, "eos_token_id": tok.eos_id, "torch_dtype": "float32",
        "attention_bias": False,
        "quantization_config": {"quant_method": "bitnet", "linear_class": "autobitlinear",
                                "quantization_mode": "online"} if not args.full_precision else None,
    }


def load_ids(tok, path, cache):
    if os.path.exists(cache) and os.path.getmtime(cache) > os.path.getmtime(path):
        return np.load(cache)
    ids = np.asarray(tok.encode(open(path, encoding="utf-8").read()), dtype=np.int32)
    np.save(cache, ids)
    return ids


@torch.no_grad()
def heldout_perplexity(model, ids, n_ctx, max_windows=None, batch=8):
    """The engine's protocol: consecutive non-overlapping n_ctx windows (a last partial
    window with >= 2 tokens counts), no BOS, every token but a window's first is predicted."""
    was_training = model.training
    model.eval()
    model.f16_embedding = True
    windows = [ids[i:i + n_ctx] for i in range(0, len(ids), n_ctx)]
    windows = [w for w in windows if len(w) >= 2]
    if max_windows:
        windows = windows[:max_windows]
    nll, count = 0.0, 0
    full = [w for w in windows if len(w) == n_ctx]
    rest = [w for w in windows if len(w) != n_ctx]
    groups = [full[i:i + batch] for i in range(0, len(full), batch)] + [[w] for w in rest]
    for g in groups:
        x = torch.from_numpy(np.stack(g).astype(np.int64))
        logits = model(x[:, :-1]).double()
        nll += F.cross_entropy(logits.reshape(-1, logits.shape[-1]), x[:, 1:].reshape(-1),
                               reduction="sum").item()
        count += x[:, 1:].numel()
    model.f16_embedding = False
    model.train(was_training)
    return math.exp(nll / count), count


def get_batch(ids, rng, batch, ctx, bos_id, bos_fraction):
    starts = rng.integers(0, len(ids) - ctx - 1, size=batch)
    x = np.stack([ids[s:s + ctx + 1] for s in starts]).astype(np.int64)
    with_bos = rng.random(batch) < bos_fraction
    # A window that starts with BOS: BOS + the next ctx tokens (the model learns what BOS means).
    x[with_bos, 1:] = x[with_bos, :-1]
    x[with_bos, 0] = bos_id
    x = torch.from_numpy(x)
    return x[:, :-1], x[:, 1:]


def lr_at(step, args):
    if step < args.warmup:
        return args.lr * (step + 1) / args.warmup
    p = (step - args.warmup) / max(1, args.steps - args.warmup)
    return args.lr * (args.min_lr_ratio + (1 - args.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * p)))


def save_checkpoint(model, cfg, tok, out):
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2)
    safetensors_np.save(os.path.join(out, "model.safetensors"), model.hf_state_dict(), {"format": "pt"})
    with open(os.path.join(out, "tokenizer.json"), "w", encoding="utf-8") as f:
        json.dump(tok.to_json(), f, ensure_ascii=False)
    with open(os.path.join(out, "tokenizer_config.json"), "w") as f:
        json.dump({"bos_token": "<|begin_of_text|>", "eos_token": "<|end_of_text|>",
                   "add_bos_token": True, "chat_template": CHAT_TEMPLATE,
                   "model_max_length": cfg["max_position_embeddings"]}, f, indent=2)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--data-dir", default="/tmp/ternserve-train")
    ap.add_argument("--tokenizer", default="/tmp/ternserve-train/tokenizer.json")
    ap.add_argument("--heldout", default=os.path.join(os.path.dirname(__file__), "../../config/models/kjv-heldout.txt"))
    ap.add_argument("--full-precision", action="store_true", help="train the full-precision twin")
    ap.add_argument("--d-model", type=int, default=256)
    ap.add_argument("--layers", type=int, default=6)
    ap.add_argument("--heads", type=int, default=4)
    ap.add_argument("--kv-heads", type=int, default=2)
    ap.add_argument("--ffn", type=int, default=768)
    ap.add_argument("--ctx", type=int, default=256)
    ap.add_argument("--rope-theta", type=float, default=10000.0)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--steps", type=int, default=1000)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--min-lr-ratio", type=float, default=0.1)
    ap.add_argument("--warmup", type=int, default=60)
    ap.add_argument("--weight-decay", type=float, default=0.05)
    ap.add_argument("--bos-fraction", type=float, default=0.25)
    ap.add_argument("--seed", type=int, default=1234)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--eval-every", type=int, default=200)
    ap.add_argument("--log-every", type=int, default=10)
    ap.add_argument("--time-limit", type=float, default=0, help="emergency stop after this many minutes")
    ap.add_argument("--benchmark", type=int, default=0, help="time this many steps and exit")
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    os.makedirs(args.out, exist_ok=True)
    log = open(os.path.join(args.out, "train.log"), "a")

    def say(msg):
        print(msg, flush=True)
        log.write(msg + "\n")
        log.flush()

    tok = bpe.Tokenizer.from_json(args.tokenizer)
    train_ids = load_ids(tok, os.path.join(args.data_dir, "kjv-train.txt"), os.path.join(args.data_dir, "train_ids.npy"))
    held_ids = load_ids(tok, args.heldout, os.path.join(args.data_dir, "heldout_ids.npy"))
    cfg = model_config(args, len(tok.tokens), tok)
    model = BitNetLM(cfg, ternary=not args.full_precision)
    n_params = sum(p.numel() for p in model.parameters())
    kind = "full-precision twin" if args.full_precision else "ternary (BitNet b1.58 QAT)"
    say(f"{kind}: {n_params} params; train {len(train_ids)} tokens, held-out {len(held_ids)} tokens; "
        f"args {vars(args)}")

    decay = [p for n, p in model.named_parameters() if p.dim() == 2]
    no_decay = [p for n, p in model.named_parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": args.weight_decay},
                             {"params": no_decay, "weight_decay": 0.0}],
                            lr=args.lr, betas=(0.9, 0.95), eps=1e-8)
    t0 = time.time()
    curve = []
    ema = None
    steps = args.benchmark or args.steps
    for step in range(steps):
        for g in opt.param_groups:
            g["lr"] = lr_at(step, args)
        x, y = get_batch(train_ids, rng, args.batch, args.ctx, tok.bos_id, args.bos_fraction)
        logits = model(x)
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        lv = loss.item()
        ema = lv if ema is None else 0.95 * ema + 0.05 * lv
        if (step + 1) % args.log_every == 0 or step == 0:
            el = time.time() - t0
            tps = (step + 1) * args.batch * args.ctx / el
            say(f"step {step + 1}/{steps} loss {lv:.4f} (ema {ema:.4f}) lr {lr_at(step, args):.2e} "
                f"{el:.0f}s {tps:.0f} tok/s")
            curve.append([step + 1, round(lv, 4), round(ema, 4)])
        if args.time_limit and time.time() - t0 > args.time_limit * 60 and step + 1 < steps:
            say(f"time limit reached: stopping after {step + 1} of {steps} steps")
            steps = step + 1
            break
        if args.eval_every and (step + 1) % args.eval_every == 0 and step + 1 < steps:
            ppl, n = heldout_perplexity(model, held_ids, args.ctx, max_windows=32)
            say(f"  eval step {step + 1}: held-out ppl (first 32 windows, {n} tokens) {ppl:.3f}")
            save_checkpoint(model, cfg, tok, args.out)
    wall = time.time() - t0
    if args.benchmark:
        say(f"benchmark: {wall / steps:.2f} s/step")
        return
    ppl, n = heldout_perplexity(model, held_ids, args.ctx)
    say(f"final: held-out perplexity {ppl:.4f} over {n} predicted tokens; train loss (ema) {ema:.4f}; "
        f"wall {wall:.0f}s")
    save_checkpoint(model, cfg, tok, args.out)
    results = {
        "kind": "ternary" if not args.full_precision else "full_precision",
        "steps": steps, "batch": args.batch, "context": args.ctx,
        "tokens_seen": steps * args.batch * args.ctx, "train_tokens_unique": int(len(train_ids)),
        "final_train_loss_last_step": round(lv, 4), "final_train_loss_ema": round(ema, 4),
        "heldout_perplexity": round(ppl, 4), "heldout_predicted_tokens": n,
        "n_params": n_params, "seed": args.seed, "wall_time_s": round(wall, 1),
        "optimizer": {"type": "AdamW", "lr": args.lr, "betas": [0.9, 0.95], "weight_decay": args.weight_decay,
                      "warmup": args.warmup, "schedule": "cosine", "min_lr_ratio": args.min_lr_ratio,
                      "grad_clip": 1.0, "bos_fraction": args.bos_fraction},
        "architecture": {k: cfg[k] for k in ("vocab_size", "hidden_size", "intermediate_size",
                                             "num_hidden_layers", "num_attention_heads",
                                             "num_key_value_heads", "max_position_embeddings",
                                             "hidden_act", "rms_norm_eps", "rope_theta",
                                             "tie_word_embeddings")},
        "loss_curve": curve,
    }
    with open(os.path.join(args.out, "results.json"), "w") as f:
        json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
