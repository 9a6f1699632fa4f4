"""Reference forward pass of the BitNet architectures in float64 numpy (formats.md section 3).

Readable top to bottom, one token sequence at a time, whole sequence in one batch
(teacher forcing): forward(model, ids) returns logits [len(ids), n_vocab].

Ternary matmuls follow BitNet b1.58 (formats.md section 4): each token's input vector is
quantized to int8 with its own absmax scale, multiplied by the ternary weights exactly, and
scaled back. With float_activations=True the input is used as is (dequantized weights @ x).
"""
import numpy as np

from .dequant import decode_tensor
from .gguf import GGUFError, GGUFFile

SQUARED_RELU_ARCHS = ("bitnet-b1.58", "bitnet-25")
SILU_ARCHS = ("bitnet",)
DEFAULT_ROPE_BASE = {"bitnet-b1.58": 500000.0, "bitnet-25": 500000.0, "bitnet": 10000.0}


class Model:
    """Hyper-parameters and weights (all float64, numpy order [out, in]) of one GGUF file."""

    def __init__(self, path):
        g = GGUFFile(path)
        self.arch = g.get("general.architecture")
        if self.arch not in SQUARED_RELU_ARCHS + SILU_ARCHS:
            raise GGUFError("unsupported architecture %r" % self.arch)
        p = self.arch + "."

        def need(key):
            if p + key not in g.metadata:
                raise GGUFError("missing metadata key " + p + key)
            return int(g.metadata[p + key])

        self.n_embd = need("embedding_length")
        self.n_layers = need("block_count")
        self.n_heads = need("attention.head_count")
        self.n_kv_heads = int(g.get(p + "attention.head_count_kv", self.n_heads))
        self.n_ff = need("feed_forward_length")
        self.head_dim = self.n_embd // self.n_heads
        self.n_rot = int(g.get(p + "rope.dimension_count", self.head_dim))
        self.rope_base = float(g.get(p + "rope.freq_base", DEFAULT_ROPE_BASE[self.arch]))
        self.eps = float(g.get(p + "attention.layer_norm_rms_epsilon", 1e-5))
        self.squared_relu = self.arch in SQUARED_RELU_ARCHS

        def tensor(name):
            if name not in g.tensors:
                raise GGUFError("missing tensor " + name)
            return decode_tensor(g.tensors[name])

        def linear_weight(name):
            # The weight as a float matrix [out, in]; for `bitnet`, fold in the optional
            # per-tensor `.scale` (it multiplies the matmul output, which is the same thing).
            w = tensor(name + ".weight")
            scale_name = name + ".scale"
            if self.arch in SILU_ARCHS and scale_name in g.tensors:
                w = w * tensor(scale_name).reshape(-1)[0]
            return w

        self.token_embd = tensor("token_embd.weight")                       # [vocab, n_embd]
        self.output = tensor("output.weight") if "output.weight" in g.tensors else self.token_embd
        self.output_norm = tensor("output_norm.weight")
        self.n_vocab = self.token_embd.shape[0]
        self.layers = []
        for i in range(self.n_layers):
            b = "blk.%d." % i
            self.layers.append({
                "attn_norm": tensor(b + "attn_norm.weight"),
                "wq": linear_weight(b + "attn_q"),
                "wk": linear_weight(b + "attn_k"),
                "wv": linear_weight(b + "attn_v"),
                "attn_sub_norm": tensor(b + "attn_sub_norm.weight"),
                "wo": linear_weight(b + "attn_output"),
                "ffn_norm": tensor(b + "ffn_norm.weight"),
                "w_gate": linear_weight(b + "ffn_gate"),
                "w_up": linear_weight(b + "ffn_up"),
                "ffn_sub_norm": tensor(b + "ffn_sub_norm.weight"),
                "w_down": linear_weight(b + "ffn_down"),
            })


def rmsnorm(x, weight, eps):
    """x [T, n] -> x / sqrt(mean(x^2) + eps) * weight, per row."""
    return x / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + eps) * weight


def round_half_away(v):
    return np.sign(v) * np.floor(np.abs(v) + 0.5)


def quantize_activations(x):
    """Per-token int8: s = 127 / max(|x|, 1e-5), q = clamp(round(x * s), -128, 127)."""
    s = 127.0 / np.maximum(np.max(np.abs(x), axis=-1, keepdims=True), 1e-5)
    q = np.clip(round_half_away(x * s), -128, 127)
    return q, s


def rounding_margin(x):
    """Per token: min over elements of the distance of |x * s| to the nearest .5 rounding boundary.

    A value within float32 noise (~1e-5) of a boundary may round the other way in an
    implementation computing in float32; tests use this to tell such flips from bugs.
    """
    s = 127.0 / np.maximum(np.max(np.abs(x), axis=-1, keepdims=True), 1e-5)
    v = np.abs(x * s)
    return np.min(np.abs(v - np.floor(v) - 0.5), axis=-1)


def linear(x, w, float_activations, trace=None):
    """x [T, in], w [out, in] (ternary values times scales) -> [T, out].

    w holds trits times f16/f32 scales, and q holds integers, so w @ q is exact in float64:
    it equals (trits @ q) * weight_scale, as the int32 kernels compute it.
    trace: optional list; gets rounding_margin(x) of every quantized input.
    """
    if float_activations:
        return x @ w.T
    if trace is not None:
        trace.append(rounding_margin(x))
    q, s = quantize_activations(x)
    return (q @ w.T) / s


def rope_neox(x, positions, n_rot, base):
    """x [T, n_heads, head_dim]: rotate pairs (i, i + n_rot/2), theta_i = pos * base^(-2i/n_rot)."""
    half = n_rot // 2
    inv_freq = base ** (-2.0 * np.arange(half) / n_rot)                   # [half]
    theta = positions[:, None].astype(np.float64) * inv_freq[None, :]    # [T, half]
    cos = np.cos(theta)[:, None, :]
    sin = np.sin(theta)[:, None, :]
    out = x.copy()
    x0 = x[..., :half]
    x1 = x[..., half:n_rot]
    out[..., :half] = x0 * cos - x1 * sin
    out[..., half:n_rot] = x0 * sin + x1 * cos
    return out


def attention(q, k, v, n_heads, n_kv_heads):
    """Causal attention with GQA. q [T, n_heads, hd], k, v [T, n_kv_heads, hd] -> [T, n_heads*hd]."""
    T, _, hd = q.shape
    group = n_heads // n_kv_heads
    mask = np.triu(np.full((T, T), -np.inf), k=1)  # token t sees positions 0..t
    out = np.empty_like(q)
    for h in range(n_heads):
        kv = h // group
        scores = q[:, h, :] @ k[:, kv, :].T / np.sqrt(hd) + mask
        scores -= scores.max(axis=-1, keepdims=True)
        p = np.exp(scores)
        p /= p.sum(axis=-1, keepdims=True)
        out[:, h, :] = p @ v[:, kv, :]
    return out.reshape(T, n_heads * hd)


def silu(x):
    return x / (1.0 + np.exp(-x))


def squared_relu(x):
    return np.maximum(x, 0.0) ** 2


def forward(m, ids, float_activations=False, trace=None):
    """Teacher-forced logits [len(ids), n_vocab] of the sequence `ids` from position 0.

    trace: optional list, filled with per-token rounding margins (see linear()).
    """
    ids = np.asarray(ids, dtype=np.int64)
    if ids.ndim != 1 or len(ids) == 0:
        raise ValueError("ids must be a non-empty list")
    if ids.min() < 0 or ids.max() >= m.n_vocab:
        raise ValueError("token id outside the vocabulary (0..%d)" % (m.n_vocab - 1))
    T = len(ids)
    positions = np.arange(T)
    hd = m.head_dim
    x = m.token_embd[ids].copy()                                          # [T, n_embd]

    for L in m.layers:
        # Attention block.
        h = rmsnorm(x, L["attn_norm"], m.eps)
        q = linear(h, L["wq"], float_activations, trace).reshape(T, m.n_heads, hd)
        k = linear(h, L["wk"], float_activations, trace).reshape(T, m.n_kv_heads, hd)
        v = linear(h, L["wv"], float_activations, trace).reshape(T, m.n_kv_heads, hd)
        q = rope_neox(q, positions, m.n_rot, m.rope_base)
        k = rope_neox(k, positions, m.n_rot, m.rope_base)
        a = attention(q, k, v, m.n_heads, m.n_kv_heads)
        a = rmsnorm(a, L["attn_sub_norm"], m.eps)
        x = x + linear(a, L["wo"], float_activations, trace)

        # Feed-forward block.
        h = rmsnorm(x, L["ffn_norm"], m.eps)
        gate = linear(h, L["w_gate"], float_activations, trace)
        up = linear(h, L["w_up"], float_activations, trace)
        act = squared_relu(gate) if m.squared_relu else silu(gate)
        f = rmsnorm(act * up, L["ffn_sub_norm"], m.eps)
        x = x + linear(f, L["w_down"], float_activations, trace)

    # Final norm and the head (output.weight, or the tied embedding), float activations.
    return rmsnorm(x, m.output_norm, m.eps) @ m.output.T
