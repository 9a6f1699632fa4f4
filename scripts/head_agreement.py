#!/usr/bin/python3
"""How far `--head q8|q4` moves a model's logits from the f16 head, on real text.

Tokenizes windows of a text file with `ternserve-cli tokenize`, writes teacher-forced logits
for each head with `ternserve-cli logits`, and reports top-1 agreement and mean KL(f16 || head)
over all positions. The README's "Output head and speed" table comes from:

  /usr/bin/python3 scripts/head_agreement.py --cli build/bin/ternserve-cli \
      --text config/models/kjv-heldout.txt          # the built-in model, 8 windows x 250 tokens
"""
import argparse
import json
import os
import subprocess
import tempfile

import numpy as np


def log_softmax(x):
    x = x - x.max(axis=1, keepdims=True)
    return x - np.log(np.exp(x).sum(axis=1, keepdims=True))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cli", default="build/bin/ternserve-cli", help="ternserve-cli binary")
    ap.add_argument("--model", default="", help="GGUF model (default: the built-in model)")
    ap.add_argument("--text", required=True, help="text file to take the windows from")
    ap.add_argument("--windows", type=int, default=8)
    ap.add_argument("--tokens", type=int, default=250, help="tokens per window")
    ap.add_argument("--stride", type=int, default=3000, help="characters between window starts")
    ap.add_argument("--heads", default="q8,q4", help="heads to compare with f16")
    args = ap.parse_args()

    model = ["-m", args.model] if args.model else []
    text = open(args.text, encoding="utf-8").read()
    heads = args.heads.split(",")
    totals = {h: [0, 0, 0.0] for h in heads}  # agreeing positions, positions, summed KL
    with tempfile.TemporaryDirectory() as tmp:
        for w in range(args.windows):
            chunk = text[w * args.stride: w * args.stride + args.tokens * 6]
            out = subprocess.run([args.cli, "tokenize", *model, "-p", chunk], capture_output=True, text=True,
                                 check=True).stdout
            ids = json.loads(out)[: args.tokens]
            logits = {}
            for h in ["f16", *heads]:
                path = os.path.join(tmp, h + ".f32")
                subprocess.run([args.cli, "logits", *model, "--prompt-ids", ",".join(map(str, ids)), "-o", path,
                                "--head", h], capture_output=True, check=True)
                logits[h] = np.fromfile(path, dtype=np.float32).reshape(len(ids), -1)
            ref = log_softmax(logits["f16"].astype(np.float64))
            for h in heads:
                got = log_softmax(logits[h].astype(np.float64))
                t = totals[h]
                t[0] += int((logits[h].argmax(1) == logits["f16"].argmax(1)).sum())
                t[1] += len(ids)
                t[2] += float((np.exp(ref) * (ref - got)).sum())
    for h, (agree, n, kl) in totals.items():
        print(f"{h}: top-1 agreement {agree / n:.3f}, mean KL {kl / n:.2e} over {n} positions")


if __name__ == "__main__":
    main()
