#!/usr/bin/env python3
"""Compare the C++ tokenizer (`ternserve-cli tokenize -m MODEL -f FILE`) with scripts/train/bpe.py."""
import argparse
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bpe  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cli", default="build/bin/ternserve-cli")
    ap.add_argument("--model", required=True)
    ap.add_argument("--tokenizer", required=True, help="tokenizer.json written by bpe.py")
    ap.add_argument("files", nargs="+")
    args = ap.parse_args()
    tok = bpe.Tokenizer.from_json(args.tokenizer)
    ok = True
    for path in args.files:
        py = tok.encode(open(path, encoding="utf-8", newline="").read())
        out = subprocess.run([args.cli, "tokenize", "-m", args.model, "-f", path],
                             check=True, capture_output=True, text=True).stdout
        cpp = json.loads(out.strip().splitlines()[-1])
        note = ""
        if cpp[:1] == [tok.bos_id] and py[:1] != [tok.bos_id]:
            cpp, note = cpp[1:], " (after the BOS the CLI adds: add_bos_token is true)"
        if py == cpp:
            print(f"{path}: identical, {len(py)} tokens{note}")
            continue
        ok = False
        i = next((k for k, (a, b) in enumerate(zip(py, cpp)) if a != b), min(len(py), len(cpp)))
        print(f"{path}: MISMATCH at token {i}: python {py[i:i + 8]} c++ {cpp[i:i + 8]} "
              f"(lengths {len(py)} / {len(cpp)}); context {tok.decode(py[max(0, i - 5):i + 5])!r}")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
