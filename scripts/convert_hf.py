#!/usr/bin/env python3
"""Convert a Hugging Face BitNet checkpoint (safetensors) to GGUF v3 with ternary tensors.

  convert_hf.py MODEL_DIR -o OUT.gguf [--type i2_s|tq2_0] [--arch bitnet-b1.58|bitnet]

Supported checkpoints:
  BitNetForCausalLM  (Microsoft BitNet b1.58 2B-4T family; squared-ReLU FFN, sub-norms, tied
                     embeddings): bf16/f16/f32 master weights are ternarized per tensor
                     (scale = mean|W|); packed uint8 weights + weight_scale are unpacked.
                     Written as architecture `bitnet-b1.58` (default) or `bitnet` (--arch).
  BitnetForCausalLM  (1bitLLM bitnet_b1_58-*: Llama names, SiLU FFN, inner_attn_ln /
                     ffn_layernorm sub-norms): ternarized at conversion, architecture `bitnet`.
The layout is that of bitnet.cpp's published ggml-model-i2_s.gguf: F16 token_embd (the tied
head), F32 norms, ternary projections, tokenizer metadata.  numpy only.
"""
import argparse
import glob
import json
import os
import struct
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gguf_writer as gw  # noqa: E402

FILE_TYPE = {"i2_s": 40, "tq2_0": 37}    # llama.cpp ftype ids (MOSTLY_I2_S in bitnet.cpp, MOSTLY_TQ2_0)
TENSOR_TYPE = {"i2_s": gw.GGML_I2_S, "tq2_0": gw.GGML_TQ2_0}
SUPPORTED = {"BitNetForCausalLM": "bitnet-b1.58", "BitnetForCausalLM": "bitnet"}

# HF name (after "model.layers.N.") -> GGUF name (after "blk.N."), ternary?
LAYER_TENSORS = [
    ("input_layernorm.weight", "attn_norm.weight", False),
    ("self_attn.q_proj.weight", "attn_q.weight", True),
    ("self_attn.k_proj.weight", "attn_k.weight", True),
    ("self_attn.v_proj.weight", "attn_v.weight", True),
    (("self_attn.attn_sub_norm.weight", "self_attn.inner_attn_ln.weight"), "attn_sub_norm.weight", False),
    ("self_attn.o_proj.weight", "attn_output.weight", True),
    ("post_attention_layernorm.weight", "ffn_norm.weight", False),
    ("mlp.gate_proj.weight", "ffn_gate.weight", True),
    ("mlp.up_proj.weight", "ffn_up.weight", True),
    (("mlp.ffn_sub_norm.weight", "mlp.ffn_layernorm.weight"), "ffn_sub_norm.weight", False),
    ("mlp.down_proj.weight", "ffn_down.weight", True),
]

DEFAULT_CHAT_TEMPLATE = (
    "{{ bos_token }}{% for message in messages %}"
    "{{ message['role'] | capitalize }}: {{ message['content'] }}<|eot_id|>"
    "{% endfor %}{% if add_generation_prompt %}Assistant: {% endif %}")


def fail(msg):
    print(f"convert_hf: error: {msg}", file=sys.stderr)
    sys.exit(2)


# ---------------------------------------------------------------- safetensors

class SafeTensors:
    """All *.safetensors files of a checkpoint directory, read lazily with memmap."""

    _DT = {"F32": "<f4", "F16": "<f2", "BF16": "<u2", "U8": "u1", "I8": "i1", "I32": "<i4",
           "F64": "<f8", "I64": "<i8"}

    def __init__(self, model_dir):
        files = sorted(glob.glob(os.path.join(model_dir, "*.safetensors")))
        if not files:
            fail(f"no *.safetensors files in {model_dir}")
        self.index = {}
        for path in files:
            with open(path, "rb") as f:
                n = struct.unpack("<Q", f.read(8))[0]
                header = json.loads(f.read(n))
            for name, info in header.items():
                if name != "__metadata__":
                    self.index[name] = (path, 8 + n, info)

    def __contains__(self, name):
        return name in self.index

    def names(self):
        return list(self.index)

    def raw(self, name):
        path, base, info = self.index[name]
        if info["dtype"] not in self._DT:
            fail(f"tensor {name}: unsupported dtype {info['dtype']}")
        start, end = info["data_offsets"]
        a = np.memmap(path, dtype=np.uint8, mode="r", offset=base + start, shape=(end - start,))
        return a.view(self._DT[info["dtype"]]).reshape(info["shape"]), info["dtype"]

    def float32(self, name):
        a, dt = self.raw(name)
        if dt == "BF16":
            return (a.astype(np.uint32) << 16).view(np.float32)
        return a.astype(np.float32)


# ---------------------------------------------------------------- tokenizers

def gpt2_tokenizer(model_dir, cfg):
    """Byte-level BPE from tokenizer.json (+ tokenizer_config.json for specials and template)."""
    with open(os.path.join(model_dir, "tokenizer.json"), encoding="utf-8") as f:
        tj = json.load(f)
    tcfg = {}
    p = os.path.join(model_dir, "tokenizer_config.json")
    if os.path.exists(p):
        with open(p, encoding="utf-8") as f:
            tcfg = json.load(f)
    vocab = dict(tj["model"]["vocab"])
    for t in tj.get("added_tokens", []):
        vocab[t["content"]] = t["id"]
    n_vocab = max(cfg.get("vocab_size", 0), max(vocab.values()) + 1)
    tokens = [f"[PAD{i}]" for i in range(n_vocab)]
    types = [5] * n_vocab     # UNUSED unless named
    for t, i in vocab.items():
        tokens[i] = t
        types[i] = 1
    specials = {t["content"]: t["id"] for t in tj.get("added_tokens", []) if t.get("special", True)}
    for t, i in specials.items():
        types[i] = 3           # CONTROL
    merges = tj["model"]["merges"]
    merges = [m if isinstance(m, str) else " ".join(m) for m in merges]

    def special_id(key, fallback):
        v = tcfg.get(key)
        if isinstance(v, dict):
            v = v.get("content")
        if v in vocab:
            return vocab[v]
        return fallback

    bos = special_id("bos_token", cfg.get("bos_token_id"))
    eos = special_id("eos_token", cfg.get("eos_token_id"))
    pre = tj.get("pre_tokenizer") or {}
    ggml_pre = pre.get("ggml_pre")
    if ggml_pre is None:
        # Llama 3 style vocabularies (Microsoft 2B-4T) use the llama-bpe pre-tokenizer.
        ggml_pre = "llama-bpe" if n_vocab > 100000 else "gpt-2"
    meta = {
        "model": "gpt2", "pre": ggml_pre, "tokens": tokens, "token_type": types,
        "scores": [0.0] * n_vocab, "merges": merges, "bos": bos, "eos": eos,
        "eot": specials.get("<|eot_id|>"), "pad": eos, "add_bos": tcfg.get("add_bos_token", True),
        "chat_template": tcfg.get("chat_template") or DEFAULT_CHAT_TEMPLATE,
    }
    return meta


def _varint(buf, pos):
    v, shift = 0, 0
    while True:
        b = buf[pos]
        pos += 1
        v |= (b & 0x7F) << shift
        if b < 0x80:
            return v, pos
        shift += 7


def _protobuf_fields(buf):
    """Yields (field number, wire type, value) of one protobuf message."""
    pos = 0
    while pos < len(buf):
        key, pos = _varint(buf, pos)
        field, wire = key >> 3, key & 7
        if wire == 0:
            v, pos = _varint(buf, pos)
        elif wire == 1:
            v, pos = buf[pos:pos + 8], pos + 8
        elif wire == 2:
            n, pos = _varint(buf, pos)
            v, pos = buf[pos:pos + n], pos + n
        elif wire == 5:
            v, pos = buf[pos:pos + 4], pos + 4
        else:
            raise ValueError(f"unsupported protobuf wire type {wire}")
        yield field, wire, v


def spm_tokenizer(model_dir, cfg):
    """SentencePiece tokenizer.model (1bitLLM / Llama 2): pieces, scores, types."""
    buf = open(os.path.join(model_dir, "tokenizer.model"), "rb").read()
    tokens, scores, types = [], [], []
    for field, wire, v in _protobuf_fields(buf):
        if field != 1 or wire != 2:
            continue
        piece, score, ptype = "", 0.0, 1
        for f2, w2, v2 in _protobuf_fields(v):
            if f2 == 1:
                piece = v2.decode("utf-8")
            elif f2 == 2:
                score = struct.unpack("<f", v2)[0]
            elif f2 == 3:
                ptype = v2
        tokens.append(piece)
        scores.append(score)
        types.append(ptype)   # SentencePiece types match llama.cpp's token types (1..6)
    p = os.path.join(model_dir, "added_tokens.json")
    if os.path.exists(p):
        with open(p, encoding="utf-8") as f:
            for t, i in sorted(json.load(f).items(), key=lambda kv: kv[1]):
                if i == len(tokens):
                    tokens.append(t)
                    scores.append(-1000.0)
                    types.append(4)   # USER_DEFINED
    n_vocab = cfg.get("vocab_size", len(tokens))
    while len(tokens) < n_vocab:
        tokens.append(f"[PAD{len(tokens)}]")
        scores.append(-1000.0)
        types.append(5)
    return {"model": "llama", "tokens": tokens, "token_type": types, "scores": scores,
            "bos": cfg.get("bos_token_id", 1), "eos": cfg.get("eos_token_id", 2), "unk": 0,
            "add_bos": True, "chat_template": None}


def load_tokenizer(model_dir, cfg):
    if os.path.exists(os.path.join(model_dir, "tokenizer.model")):
        return spm_tokenizer(model_dir, cfg)
    if os.path.exists(os.path.join(model_dir, "tokenizer.json")):
        return gpt2_tokenizer(model_dir, cfg)
    fail(f"no tokenizer.json or tokenizer.model in {model_dir}")


# ---------------------------------------------------------------- weights

def unpack_packed_ternary(packed):
    """Packed HF checkpoints: 4 ternaries per uint8 along the output-row axis; row
    k * rows/4 + r comes from bits [2k+1:2k] of packed row r; value = code - 1."""
    p = np.asarray(packed, dtype=np.uint8)
    return np.concatenate([((p >> (2 * k)) & 3).astype(np.int8) - 1 for k in range(4)], axis=0)


def ternary_tensor(st, name, arch_hf):
    """Returns (int8 ternary (out, in), scale) for one projection."""
    a, dt = st.raw(name)
    if dt in ("U8", "I8") and a.dtype.itemsize == 1:
        scale_name = name[: -len("weight")] + "weight_scale"
        if scale_name not in st:
            fail(f"{name}: packed weights without {scale_name}")
        s = float(st.float32(scale_name).reshape(-1)[0])
        if arch_hf != "BitNetForCausalLM":
            s = 1.0 / s    # Llama-style 1.58-bit checkpoints divide by the stored scale
        return unpack_packed_ternary(a), np.float32(s)
    return gw.ternarize(st.float32(name))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model_dir")
    ap.add_argument("-o", "--outfile", required=True)
    ap.add_argument("--type", choices=sorted(FILE_TYPE), default="i2_s", help="ternary tensor type")
    ap.add_argument("--arch", choices=["bitnet-b1.58", "bitnet"], help="GGUF architecture to write")
    ap.add_argument("--name", help="general.name (default: the directory name)")
    ap.add_argument("--ctx", type=int, help="context_length (default: max_position_embeddings)")
    args = ap.parse_args()

    with open(os.path.join(args.model_dir, "config.json")) as f:
        cfg = json.load(f)
    archs = cfg.get("architectures") or [cfg.get("model_type", "?")]
    arch_hf = archs[0]
    if arch_hf not in SUPPORTED:
        fail(f"unsupported architecture '{arch_hf}' (supported: {', '.join(SUPPORTED)})")
    arch = args.arch or SUPPORTED[arch_hf]
    act = cfg.get("hidden_act", "silu")
    if arch_hf == "BitNetForCausalLM" and arch == "bitnet":
        print(f"convert_hf: note: writing a {act} model as architecture `bitnet`, which engines run "
              "with a SiLU FFN: the file checks layout, its outputs differ from the model's", file=sys.stderr)
    if arch_hf == "BitnetForCausalLM" and arch == "bitnet-b1.58":
        fail("a SiLU BitnetForCausalLM checkpoint cannot be written as bitnet-b1.58 (squared ReLU)")

    d = cfg["hidden_size"]
    n_layers = cfg["num_hidden_layers"]
    n_head = cfg["num_attention_heads"]
    n_kv = cfg.get("num_key_value_heads", n_head)
    n_ff = cfg["intermediate_size"]
    st = SafeTensors(args.model_dir)
    tok = load_tokenizer(args.model_dir, cfg)
    n_vocab = len(tok["tokens"])

    w = gw.GGUFWriter(alignment=32)
    w.add_string("general.architecture", arch)
    w.add_string("general.name", args.name or os.path.basename(os.path.abspath(args.model_dir)))
    w.add_u32("general.alignment", 32)
    p = arch + "."
    w.add_u32(p + "vocab_size", n_vocab)
    w.add_u32(p + "context_length", args.ctx or cfg.get("max_position_embeddings", 2048))
    w.add_u32(p + "embedding_length", d)
    w.add_u32(p + "block_count", n_layers)
    w.add_u32(p + "feed_forward_length", n_ff)
    w.add_u32(p + "rope.dimension_count", d // n_head)
    w.add_u32(p + "attention.head_count", n_head)
    w.add_u32(p + "attention.head_count_kv", n_kv)
    w.add_f32(p + "attention.layer_norm_rms_epsilon", cfg.get("rms_norm_eps", 1e-5))
    w.add_f32(p + "rope.freq_base", cfg.get("rope_theta", 10000.0))
    w.add_u32("general.file_type", FILE_TYPE[args.type])
    w.add_u32("general.quantization_version", 2)
    w.add_string("tokenizer.ggml.model", tok["model"])
    if tok.get("pre"):
        w.add_string("tokenizer.ggml.pre", tok["pre"])
    w.add_array("tokenizer.ggml.tokens", gw.STRING, tok["tokens"])
    w.add_array("tokenizer.ggml.scores", gw.F32, tok["scores"])
    w.add_array("tokenizer.ggml.token_type", gw.I32, tok["token_type"])
    if tok.get("merges"):
        w.add_array("tokenizer.ggml.merges", gw.STRING, tok["merges"])
    for key, field in (("bos_token_id", "bos"), ("eos_token_id", "eos"), ("eot_token_id", "eot"),
                       ("padding_token_id", "pad"), ("unknown_token_id", "unk")):
        if tok.get(field) is not None:
            w.add_u32("tokenizer.ggml." + key, tok[field])
    w.add_bool("tokenizer.ggml.add_bos_token", tok["add_bos"])
    if tok["model"] == "llama":
        w.add_bool("tokenizer.ggml.add_space_prefix", True)
    if tok.get("chat_template"):
        w.add_string("tokenizer.chat_template", tok["chat_template"])

    def need(name):
        if name not in st:
            fail(f"tensor {name} missing from the checkpoint")
        return name

    def f32_tensor(gguf_name, hf_name):
        a = st.float32(need(hf_name))
        w.add_tensor(gguf_name, a.shape[::-1], gw.GGML_F32, np.ascontiguousarray(a, "<f4").tobytes())

    ttype = TENSOR_TYPE[args.type]
    emb = st.float32(need("model.embed_tokens.weight"))
    if emb.shape[0] < n_vocab:
        fail(f"embedding has {emb.shape[0]} rows, vocabulary {n_vocab}")
    emb = emb[:n_vocab]
    w.add_tensor("token_embd.weight", [d, n_vocab], gw.GGML_F16, emb.astype("<f2").tobytes())
    for i in range(n_layers):
        for hf_names, gname, ternary in LAYER_TENSORS:
            hf_names = hf_names if isinstance(hf_names, tuple) else (hf_names,)
            full = [f"model.layers.{i}.{n}" for n in hf_names]
            hf = next((n for n in full if n in st), None)
            if hf is None:
                fail(f"tensor {full[0]} missing from the checkpoint")
            if ternary:
                t, scale = ternary_tensor(st, hf, arch_hf)
                pack = gw.pack_i2_s if args.type == "i2_s" else gw.pack_tq2_0
                w.add_tensor(f"blk.{i}.{gname}", t.shape[::-1], ttype, pack(t, scale))
            else:
                f32_tensor(f"blk.{i}.{gname}", hf)
    f32_tensor("output_norm.weight", "model.norm.weight")
    if "lm_head.weight" in st and not cfg.get("tie_word_embeddings", True):
        head = st.float32("lm_head.weight")[:n_vocab]
        if not np.array_equal(head, emb):
            w.add_tensor("output.weight", [d, n_vocab], gw.GGML_F16, head.astype("<f2").tobytes())

    t0 = time.time()
    total = len(w.tensors)
    done = [0]

    def progress(name, shape, gtype, nbytes):
        done[0] += 1
        print(f"[{done[0]:4d}/{total}] {name:28s} {str(shape):16s} {gw.TYPE_NAMES[gtype]:5s} {nbytes:>10d} bytes",
              flush=True)

    w.write(args.outfile, progress)
    size = os.path.getsize(args.outfile)
    print(f"wrote {args.outfile}: architecture {arch}, {total} tensors, {args.type.upper()}, "
          f"{size} bytes in {time.time() - t0:.1f} s")


if __name__ == "__main__":
    main()
