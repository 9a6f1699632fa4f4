"""BitNet b1.58 (2B-4T family) at small scale, in PyTorch, with quantization-aware training.

The forward pass is the one in formats.md §3, which the C++ engine implements:
RMSNorm everywhere (eps 1e-5), attention and FFN sub-norms, squared-ReLU gated FFN,
GQA, NEOX RoPE, tied embeddings, no biases.  Every linear layer is a BitLinear:
absmean ternary weights and per-token absmax int8 activations in the forward pass,
straight-through estimator in the backward pass.  `ternary=False` gives the
full-precision twin (plain linear layers, same everything else).
"""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F


def round_half_away(x):
    # The engine rounds half away from zero (torch.round rounds half to even).
    return torch.sign(x) * torch.floor(torch.abs(x) + 0.5)


def quantize_activations(x):
    """Per-token absmax int8, returned dequantized: q / s, s = 127 / max|x|."""
    s = 127.0 / x.abs().amax(dim=-1, keepdim=True).clamp(min=1e-5)
    return round_half_away(x * s).clamp(-128, 127) / s


def ternarize(w):
    """Absmean ternary weights, returned dequantized: T * scale, scale = mean|W|."""
    scale = w.abs().mean().clamp(min=1e-5)
    return round_half_away(w / scale).clamp(-1, 1) * scale


class BitLinear(nn.Linear):
    def __init__(self, n_in, n_out, ternary=True):
        super().__init__(n_in, n_out, bias=False)
        self.ternary = ternary

    def forward(self, x):
        if not self.ternary:
            return F.linear(x, self.weight)
        w = self.weight
        xq = x + (quantize_activations(x) - x).detach()   # straight-through estimators
        wq = w + (ternarize(w) - w).detach()
        return F.linear(xq, wq)


class RMSNorm(nn.Module):
    def __init__(self, dim, eps):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim))
        self.eps = eps

    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


def rope_tables(n_ctx, head_dim, base):
    half = head_dim // 2
    inv_freq = base ** (-torch.arange(0, half, dtype=torch.float64) * 2.0 / head_dim)
    ang = torch.arange(n_ctx, dtype=torch.float64)[:, None] * inv_freq[None, :]
    return torch.cos(ang).float(), torch.sin(ang).float()


def apply_rope_neox(x, cos, sin):
    # x: (B, H, T, D); rotate pairs (i, i + D/2).
    half = x.shape[-1] // 2
    x1, x2 = x[..., :half], x[..., half:]
    c, s = cos[: x.shape[2]], sin[: x.shape[2]]
    return torch.cat([x1 * c - x2 * s, x2 * c + x1 * s], dim=-1)


class Block(nn.Module):
    def __init__(self, cfg, ternary):
        super().__init__()
        d, hd = cfg["hidden_size"], cfg["hidden_size"] // cfg["num_attention_heads"]
        self.n_head, self.n_kv, self.hd = cfg["num_attention_heads"], cfg["num_key_value_heads"], hd
        eps = cfg["rms_norm_eps"]
        self.input_layernorm = RMSNorm(d, eps)
        self.q_proj = BitLinear(d, self.n_head * hd, ternary)
        self.k_proj = BitLinear(d, self.n_kv * hd, ternary)
        self.v_proj = BitLinear(d, self.n_kv * hd, ternary)
        self.attn_sub_norm = RMSNorm(self.n_head * hd, eps)
        self.o_proj = BitLinear(self.n_head * hd, d, ternary)
        self.post_attention_layernorm = RMSNorm(d, eps)
        ff = cfg["intermediate_size"]
        self.gate_proj = BitLinear(d, ff, ternary)
        self.up_proj = BitLinear(d, ff, ternary)
        self.ffn_sub_norm = RMSNorm(ff, eps)
        self.down_proj = BitLinear(ff, d, ternary)

    def forward(self, x, cos, sin):
        B, T, _ = x.shape
        h = self.input_layernorm(x)
        q = self.q_proj(h).view(B, T, self.n_head, self.hd).transpose(1, 2)
        k = self.k_proj(h).view(B, T, self.n_kv, self.hd).transpose(1, 2)
        v = self.v_proj(h).view(B, T, self.n_kv, self.hd).transpose(1, 2)
        q, k = apply_rope_neox(q, cos, sin), apply_rope_neox(k, cos, sin)
        rep = self.n_head // self.n_kv   # query head j uses kv head j // rep
        k, v = k.repeat_interleave(rep, dim=1), v.repeat_interleave(rep, dim=1)
        att = (q @ k.transpose(-1, -2)) / math.sqrt(self.hd)
        causal = torch.ones(T, T, dtype=torch.bool, device=x.device).triu(1)
        a = att.masked_fill(causal, float("-inf")).softmax(dim=-1) @ v
        a = a.transpose(1, 2).reshape(B, T, self.n_head * self.hd)
        x = x + self.o_proj(self.attn_sub_norm(a))
        h = self.post_attention_layernorm(x)
        f = F.relu(self.gate_proj(h)).square() * self.up_proj(h)
        return x + self.down_proj(self.ffn_sub_norm(f))


class BitNetLM(nn.Module):
    def __init__(self, cfg, ternary=True):
        super().__init__()
        self.cfg = cfg
        self.embed_tokens = nn.Embedding(cfg["vocab_size"], cfg["hidden_size"])
        self.layers = nn.ModuleList(Block(cfg, ternary) for _ in range(cfg["num_hidden_layers"]))
        self.norm = RMSNorm(cfg["hidden_size"], cfg["rms_norm_eps"])
        hd = cfg["hidden_size"] // cfg["num_attention_heads"]
        cos, sin = rope_tables(cfg["max_position_embeddings"], hd, cfg["rope_theta"])
        self.register_buffer("cos", cos, persistent=False)
        self.register_buffer("sin", sin, persistent=False)
        self.f16_embedding = False   # eval: round the tied embedding/head to f16 as the GGUF stores it
        self.reset_parameters()

    def reset_parameters(self):
        std = 0.02
        n_layers = self.cfg["num_hidden_layers"]
        for name, p in self.named_parameters():
            if p.dim() == 2:
                s = std / math.sqrt(2 * n_layers) if name.endswith(("o_proj.weight", "down_proj.weight")) else std
                nn.init.normal_(p, 0.0, s)

    def forward(self, ids):
        emb = self.embed_tokens.weight
        if self.f16_embedding:
            emb = emb.half().float()
        x = F.embedding(ids, emb)
        for layer in self.layers:
            x = layer(x, self.cos, self.sin)
        return F.linear(self.norm(x), emb)

    def hf_state_dict(self):
        """Tensor names of Microsoft's BitNetForCausalLM checkpoint."""
        out = {"model.embed_tokens.weight": self.embed_tokens.weight, "model.norm.weight": self.norm.weight}
        for i, L in enumerate(self.layers):
            p = f"model.layers.{i}."
            for n in ("q_proj", "k_proj", "v_proj", "o_proj"):
                out[p + f"self_attn.{n}.weight"] = getattr(L, n).weight
            out[p + "self_attn.attn_sub_norm.weight"] = L.attn_sub_norm.weight
            for n in ("gate_proj", "up_proj", "down_proj"):
                out[p + f"mlp.{n}.weight"] = getattr(L, n).weight
            out[p + "mlp.ffn_sub_norm.weight"] = L.ffn_sub_norm.weight
            out[p + "input_layernorm.weight"] = L.input_layernorm.weight
            out[p + "post_attention_layernorm.weight"] = L.post_attention_layernorm.weight
        return {k: v.detach().float().cpu().numpy() for k, v in out.items()}
