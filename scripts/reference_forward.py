#!/usr/bin/python3
"""Reference forward pass (float64 numpy) of a BitNet GGUF model.

Writes teacher-forced logits of every position as raw float32 [n_tokens, n_vocab], the same
format as `ternserve-cli logits`. Run with /usr/bin/python3 (needs Debian's python3-numpy).

  reference_forward.py MODEL.gguf --ids 1,2,3 [--float-activations] -o out.f32
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import numpy as np  # noqa: E402

from reference.gguf import GGUFError  # noqa: E402
from reference.model import Model, forward  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model", help="GGUF model file")
    ap.add_argument("--ids", required=True, help="token ids, comma-separated")
    ap.add_argument("--float-activations", action="store_true",
                    help="no int8 activation quantization before ternary matmuls")
    ap.add_argument("-o", "--output", required=True, help="output file: float32 [n_tokens, n_vocab]")
    args = ap.parse_args()
    try:
        ids = [int(s) for s in args.ids.split(",") if s.strip()]
    except ValueError:
        ap.error("--ids must be comma-separated integers")
    try:
        model = Model(args.model)
        logits = forward(model, ids, float_activations=args.float_activations)
    except (GGUFError, ValueError, OSError) as e:
        print("reference_forward: error: %s" % e, file=sys.stderr)
        return 1
    logits.astype("<f4").tofile(args.output)
    print("wrote %s: %d x %d float32 (%s, %s activations)" % (
        args.output, logits.shape[0], logits.shape[1], model.arch,
        "float" if args.float_activations else "int8"), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
