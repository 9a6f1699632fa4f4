#!/usr/bin/python3
"""Compares the C++ engine (`ternserve-cli logits`) with the numpy reference forward pass
(scripts/reference/) on the fixture models and on `synth` models of both architectures.

  compare_reference.py --cli build/bin/ternserve-cli --fixtures ../shared/fixtures

Exit code 0 when every check passes, 1 otherwise. Prints a table.

Checks
  anchor    the reference itself against llama.cpp's logits of tiny-v512-f32 (float
            activations): max |d logit| < 0.01 (fixtures README: llama.cpp keeps its KV cache
            in f16, which is what the residual difference is).
  float     engine --float-activations vs reference: max |d logit| / max |logit| < 1e-3.
  int8      engine vs reference, both with per-token int8 activations (BitNet b1.58).

Why the int8 checks look the way they do. Both sides do the same integer math, so they agree
to float32 rounding (~1e-6 relative) until, somewhere, an activation times its scale lands
within float32 noise of a .5 rounding boundary: the engine (float32) and the reference
(float64) then round it to different integers. On these random, untrained models one such
flip cascades through later positions (attention) and layers and moves logits by up to ~0.3,
the same order as int8-vs-float itself. Measured on tiny-v512 (6 random sequences of 70
tokens): the first diverging position always held a value within 5e-8..6.2e-6 of a boundary
(x*s units); top-1 agreement 0.957..1.0, mean KL 6e-5..1.1e-3 (max per position 5.6e-3).
So the test checks
  - strictly: on the positions before the first value within MARGIN_TOL of a rounding
    boundary (the "clean prefix" of each sequence; flips cannot reach it, attention is
    causal), max |d logit| / max |logit| < CLEAN_REL_TOL. A real bug (wrong rounding mode,
    scale, missing quantization, wrong weight) shows up here at once, at about 1e-2..1e-1.
  - loosely, over all positions: top-1 agreement >= TOP1_MIN and mean KL(ref || engine)
    < KL_MAX, bounds a little outside the measured range of boundary flips.
Measured with this script's own sequences (engine at e6da812): float max |d|/scale 0.9e-6..1.9e-6
(5.3e-4 with the engine's default f16 copy of a Q6_K head); int8 clean prefixes 1.3e-7..2.4e-7
relative (8..17 positions per model), top-1 >= 0.988, mean KL <= 7.2e-4.
Mutations of the reference, to show the checks bite: one activation scale per batch instead of
per token -> clean-prefix error 4e-2..9e-2 on every model; SiLU instead of squared ReLU for
bitnet-b1.58 -> float error 0.47, top-1 0.44.
"""
import argparse
import os
import subprocess
import sys
import tempfile

try:
    import numpy as np
except ImportError:
    sys.exit("compare_reference.py: needs numpy; run it with /usr/bin/python3 (apt-get install python3-numpy)")

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "scripts"))

from reference.model import Model, forward  # noqa: E402

# Thresholds (see the module docstring for the measurements behind them).
ANCHOR_MAX_ABS = 0.01     # reference vs llama.cpp float logits (fixtures README)
FLOAT_REL_TOL = 1e-3      # measured 1e-6 with an f32 head, 3.5e-4 with an f16 copy of a Q6_K head
MARGIN_TOL = 3e-5         # 5x the largest boundary distance seen to flip (6.2e-6)
CLEAN_REL_TOL = 1e-4      # measured ~2e-7 on clean positions
TOP1_MIN = 0.93           # measured >= 0.957 with flips
KL_MAX = 2.5e-3           # measured <= 1.1e-3 with flips; int8 vs float is 3.9e-3
BITNET_CPP_TOP1_MIN = 0.9     # reference vs bitnet.cpp, informative: measured 0.959
BITNET_CPP_KL_MAX = 1e-2      # measured 2.8e-3

SEQ_LENGTHS = (1, 4, 9, 70)
SYNTH_MODELS = (  # (arch, type): the squared-ReLU path is only checked here
    ("bitnet-b1.58", "i2_s"),
    ("bitnet-b1.58", "tq1_0"),
    ("bitnet", "tq2_0"),
)


def log_softmax(x):
    x = np.asarray(x, dtype=np.float64)
    m = x.max(axis=-1, keepdims=True)
    return x - m - np.log(np.exp(x - m).sum(axis=-1, keepdims=True))


def kl_per_position(ref, eng):
    lp, lq = log_softmax(ref), log_softmax(eng)
    return (np.exp(lp) * (lp - lq)).sum(axis=-1)


def sequences(n_vocab, seed):
    rng = np.random.default_rng(seed)
    return [rng.integers(0, n_vocab, n).tolist() for n in SEQ_LENGTHS]


class Runner:
    def __init__(self, cli, workdir, threads):
        self.cli = cli
        self.workdir = workdir
        self.threads = threads

    def engine_logits(self, model_path, ids, float_activations, head):
        out = os.path.join(self.workdir, "engine.f32")
        cmd = [self.cli, "logits", "-m", model_path, "--prompt-ids", ",".join(map(str, ids)),
               "-o", out, "--head", head, "-t", str(self.threads)]
        if float_activations:
            cmd.append("--float-activations")
        r = subprocess.run(cmd, capture_output=True, text=True)
        if r.returncode != 0:
            raise RuntimeError("%s failed (%d): %s" % (" ".join(cmd), r.returncode, r.stderr.strip()))
        return np.fromfile(out, dtype="<f4").astype(np.float64).reshape(len(ids), -1)

    def synth(self, arch, ttype):
        path = os.path.join(self.workdir, "synth-%s-%s.gguf" % (arch, ttype))
        cmd = [self.cli, "synth", "--shape", "tiny", "--arch", arch, "--type", ttype,
               "--seed", "1234", "-o", path]
        r = subprocess.run(cmd, capture_output=True, text=True)
        if r.returncode != 0:
            raise RuntimeError("%s failed (%d): %s" % (" ".join(cmd), r.returncode, r.stderr.strip()))
        return path


def compare(runner, model, path, float_activations, head, seed):
    """Runs both on the test sequences; returns a dict of metrics."""
    refs, engs, clean = [], [], []
    for ids in sequences(model.n_vocab, seed):
        trace = []
        ref = forward(model, ids, float_activations=float_activations, trace=trace)
        eng = runner.engine_logits(path, ids, float_activations, head)
        if eng.shape != ref.shape:
            raise RuntimeError("engine logits shape %s, reference %s" % (eng.shape, ref.shape))
        refs.append(ref)
        engs.append(eng)
        if trace:
            margin = np.min(np.stack(trace), axis=0)         # per position, over all layers
            near = np.nonzero(margin < MARGIN_TOL)[0]
            n_clean = int(near[0]) if len(near) else len(ids)
        else:
            n_clean = len(ids)
        clean.append(np.arange(len(ids)) < n_clean)
    ref, eng, clean = np.concatenate(refs), np.concatenate(engs), np.concatenate(clean)
    scale = float(np.abs(ref).max())
    d = np.abs(ref - eng).max(axis=-1)
    kl = kl_per_position(ref, eng)
    return {
        "n": len(ref),
        "scale": scale,
        "max_abs": float(d.max()),
        "max_rel": float(d.max()) / scale,
        "n_clean": int(clean.sum()),
        "clean_rel": float(d[clean].max()) / scale if clean.any() else float("nan"),
        "top1": float((ref.argmax(-1) == eng.argmax(-1)).mean()),
        "kl_mean": float(kl.mean()),
        "kl_max": float(kl.max()),
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cli", required=True, help="path of ternserve-cli")
    ap.add_argument("--fixtures", required=True, help="shared/fixtures directory")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    models_dir = os.path.join(args.fixtures, "models")
    failures = []
    rows = []

    def check(label, ok, what):
        if not ok:
            failures.append("%s: %s" % (label, what))
        return ok

    # 1. Anchor the reference to llama.cpp (float activations, F32 everything).
    import json
    f32_path = os.path.join(models_dir, "tiny-v512-f32.gguf")
    with open(os.path.join(models_dir, "tiny-v512-f32.expected.json")) as f:
        expected = json.load(f)
    m = Model(f32_path)
    ref = np.concatenate([forward(m, s["ids"], float_activations=True) for s in expected["sequences"]])
    want = np.fromfile(os.path.join(models_dir, "tiny-v512-f32.logits.f32"), dtype="<f4").reshape(ref.shape)
    anchor = float(np.abs(ref - want).max())
    anchor_kl = float(kl_per_position(want, ref).mean())
    check("anchor llama.cpp tiny-v512-f32", anchor < ANCHOR_MAX_ABS,
          "max |d logit| %.4g >= %g" % (anchor, ANCHOR_MAX_ABS))
    print("reference vs llama.cpp (tiny-v512-f32, float): max |d logit| %.2e (limit %g), mean KL %.1e, "
          "top-1 %.3f, %d positions" % (anchor, ANCHOR_MAX_ABS, anchor_kl,
                                        (ref.argmax(-1) == want.argmax(-1)).mean(), len(ref)))

    # bitnet.cpp's int8 logits: a close reference, not bit-exact (fixtures README). The gap is
    # llama.cpp's f16 attention operands (f16 KV cache; q and softmax output converted to f16)
    # and f16 head input, amplified by int8 rounding flips in this untrained model: with those
    # roundings simulated, the reference matches bitnet.cpp at position 0 of a one-token batch to
    # 9e-7 (0.2 without), and the f16 roundings alone move the reference's own int8 logits by
    # mean KL 3.0e-3, top-1 0.971 -- the size of the whole gap (2.8e-3, 0.959).
    with open(os.path.join(models_dir, "tiny-v512-i2_s.expected.json")) as f:
        expected = json.load(f)
    m = Model(os.path.join(models_dir, "tiny-v512-i2_s.gguf"))
    ref = np.concatenate([forward(m, s["ids"]) for s in expected["sequences"]])
    want = np.fromfile(os.path.join(models_dir, "tiny-v512-i2_s.logits.f32"), dtype="<f4").reshape(ref.shape)
    top1 = float((ref.argmax(-1) == want.argmax(-1)).mean())
    kl = float(kl_per_position(ref, want).mean())
    check("anchor bitnet.cpp tiny-v512-i2_s", top1 >= BITNET_CPP_TOP1_MIN and kl < BITNET_CPP_KL_MAX,
          "top-1 %.3f (min %g), mean KL %.2e (max %g)" % (top1, BITNET_CPP_TOP1_MIN, kl, BITNET_CPP_KL_MAX))
    print("reference vs bitnet.cpp (tiny-v512-i2_s, int8): top-1 %.3f, mean KL %.1e (close, not exact)\n"
          % (top1, kl))

    # 2. Engine vs reference.
    with tempfile.TemporaryDirectory(prefix="ts-reference-") as tmp:
        runner = Runner(args.cli, tmp, args.threads)
        cases = []  # (label, path, float_activations, head)
        for name in ("tiny-v512-f32", "tiny-v512-i2_s", "tiny-v512-tq2_0", "tiny-v512-tq1_0",
                     "tiny-v512-scaled-tq2_0-embf16"):
            path = os.path.join(models_dir, name + ".gguf")
            cases.append((name, path, True, "f32"))
            cases.append((name, path, False, "f32"))
        # The engine's default head storage (f16 copy of a Q6_K head), float activations.
        cases.append(("tiny-v512-tq2_0", os.path.join(models_dir, "tiny-v512-tq2_0.gguf"), True, "auto"))
        for arch, ttype in SYNTH_MODELS:
            try:
                path = runner.synth(arch, ttype)
            except RuntimeError as e:
                check("synth %s %s" % (arch, ttype), False, str(e))
                continue
            label = "synth %s %s" % (arch, ttype)
            cases.append((label, path, True, "f32"))
            cases.append((label, path, False, "f32"))

        models = {}
        for i, (label, path, fa, head) in enumerate(cases):
            if path not in models:
                models[path] = Model(path)
            model = models[path]
            try:
                r = compare(runner, model, path, fa, head, seed=100 + i)
            except RuntimeError as e:
                check(label, False, str(e))
                continue
            mode = "float" if fa else "int8"
            tag = "%s [%s, %s, head %s]" % (label, model.arch, mode, head)
            if fa:
                ok = check(tag, r["max_rel"] < FLOAT_REL_TOL,
                           "max |d|/scale %.2e >= %g" % (r["max_rel"], FLOAT_REL_TOL))
            else:
                ok = check(tag, r["n_clean"] > 0 and r["clean_rel"] < CLEAN_REL_TOL,
                           "clean positions %d, max |d|/scale there %.2e (limit %g)"
                           % (r["n_clean"], r["clean_rel"], CLEAN_REL_TOL))
                ok &= check(tag, r["top1"] >= TOP1_MIN and r["kl_mean"] < KL_MAX,
                            "top-1 %.3f (min %g), mean KL %.2e (max %g)"
                            % (r["top1"], TOP1_MIN, r["kl_mean"], KL_MAX))
            rows.append((label, model.arch, mode, head, r, ok))

    # 3. The table.
    hdr = "%-30s %-12s %-5s %-4s %4s %6s %9s %9s %11s %6s %9s %9s  %s" % (
        "model", "arch", "acts", "head", "pos", "scale", "max|d|", "max|d|/s",
        "clean(d/s)", "top1", "KL mean", "KL max", "")
    print(hdr)
    print("-" * len(hdr))
    for label, arch, mode, head, r, ok in rows:
        clean = "-" if mode == "float" else "%d:%.1e" % (r["n_clean"], r["clean_rel"])
        print("%-30s %-12s %-5s %-4s %4d %6.2f %9.2e %9.2e %11s %6.3f %9.1e %9.1e  %s" % (
            label, arch, mode, head, r["n"], r["scale"], r["max_abs"], r["max_rel"], clean,
            r["top1"], r["kl_mean"], r["kl_max"], "ok" if ok else "FAIL"))
    print("\nlimits: float max|d|/scale < %g; int8: clean-prefix max|d|/scale < %g (margin %g), "
          "top-1 >= %g, mean KL < %g" % (FLOAT_REL_TOL, CLEAN_REL_TOL, MARGIN_TOL, TOP1_MIN, KL_MAX))
    if failures:
        print("\nFAILED:")
        for f in failures:
            print("  " + f)
        return 1
    print("\nall reference checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
