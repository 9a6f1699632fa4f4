#!/usr/bin/env python3
"""Converter test: writes tiny Hugging Face checkpoints, converts them with
scripts/convert_hf.py and checks the GGUF (keys, tensor shapes/types, and that the
I2_S / TQ2_0 payloads decode to the ternarized weights).  numpy + unittest only.

If TERNSERVE_BIN_DIR names a directory holding ternserve-cli, the converted files are
also loaded by `ternserve-cli inspect` and `ternserve-cli generate`.
"""
import json
import os
import struct
import subprocess
import sys
import tempfile
import unittest

import numpy as np

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "scripts"))
import gguf_writer as gw  # noqa: E402

CONVERT = os.path.join(ROOT, "scripts", "convert_hf.py")
D, N_LAYERS, N_HEAD, N_KV, N_FF = 256, 2, 4, 2, 512
SPECIALS = ["<|begin_of_text|>", "<|end_of_text|>", "<|eot_id|>"]


def byte_unicode():
    bs = list(range(33, 127)) + list(range(161, 173)) + list(range(174, 256))
    cs, n = bs[:], 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return {b: chr(c) for b, c in zip(bs, cs)}


def write_safetensors(path, tensors, dtype="F32"):
    header, blobs, off = {}, [], 0
    for name, a in tensors.items():
        a = np.asarray(a)
        if dtype == "BF16" and a.dtype == np.float32:
            raw = (a.astype("<f4").view("<u4") >> 16).astype("<u2").tobytes()
            dt = "BF16"
        elif a.dtype == np.uint8:
            raw, dt = a.tobytes(), "U8"
        else:
            raw, dt = a.astype("<f4").tobytes(), "F32"
        header[name] = {"dtype": dt, "shape": list(a.shape), "data_offsets": [off, off + len(raw)]}
        blobs.append(raw)
        off += len(raw)
    hj = json.dumps(header).encode()
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(hj)) + hj + b"".join(blobs))


def bf16_round(a):
    return ((a.astype("<f4").view("<u4") >> 16) << 16).view("<f4")


def layer_names(style):
    sub_a = "self_attn.attn_sub_norm" if style == "bitnet-b1.58" else "self_attn.inner_attn_ln"
    sub_f = "mlp.ffn_sub_norm" if style == "bitnet-b1.58" else "mlp.ffn_layernorm"
    kv = D // N_HEAD * N_KV
    return [("input_layernorm", (D,), "attn_norm"), ("self_attn.q_proj", (D, D), "attn_q"),
            ("self_attn.k_proj", (kv, D), "attn_k"), ("self_attn.v_proj", (kv, D), "attn_v"),
            (sub_a, (D,), "attn_sub_norm"), ("self_attn.o_proj", (D, D), "attn_output"),
            ("post_attention_layernorm", (D,), "ffn_norm"), ("mlp.gate_proj", (N_FF, D), "ffn_gate"),
            ("mlp.up_proj", (N_FF, D), "ffn_up"), (sub_f, (N_FF,), "ffn_sub_norm"),
            ("mlp.down_proj", (D, N_FF), "ffn_down")]


def make_checkpoint(directory, style="bitnet-b1.58", dtype="F32", seed=0):
    """A tiny BitNetForCausalLM (gpt2 byte-level vocabulary) or a 1bitLLM-style
    BitnetForCausalLM (SentencePiece tokenizer.model)."""
    rng = np.random.default_rng(seed)
    os.makedirs(directory, exist_ok=True)
    if style == "bitnet-b1.58":
        bu = byte_unicode()
        vocab = [bu[b] for b in range(256)]
        merges = [("Ġ", "t"), ("h", "e"), ("Ġt", "he")]
        vocab += [a + b for a, b in merges] + SPECIALS
        tj = {"added_tokens": [{"id": len(vocab) - 3 + i, "content": s, "special": True}
                               for i, s in enumerate(SPECIALS)],
              "pre_tokenizer": {"ggml_pre": "gpt-2"},
              "model": {"type": "BPE", "vocab": {t: i for i, t in enumerate(vocab)},
                        "merges": [f"{a} {b}" for a, b in merges]}}
        with open(os.path.join(directory, "tokenizer.json"), "w", encoding="utf-8") as f:
            json.dump(tj, f)
        with open(os.path.join(directory, "tokenizer_config.json"), "w") as f:
            json.dump({"bos_token": SPECIALS[0], "eos_token": SPECIALS[1], "add_bos_token": True,
                       "chat_template": "{{ bos_token }}test"}, f)
        arch, act, n_vocab = "BitNetForCausalLM", "relu2", len(vocab)
    else:
        pieces = [("<unk>", 0.0, 2), ("<s>", 0.0, 3), ("</s>", 0.0, 3)]
        pieces += [(f"<0x{b:02X}>", 0.0, 6) for b in range(256)]
        pieces += [("▁t", -1.0, 1), ("he", -2.0, 1), ("▁the", -3.0, 1)]
        with open(os.path.join(directory, "tokenizer.model"), "wb") as f:
            f.write(spm_model_proto(pieces))
        arch, act, n_vocab = "BitnetForCausalLM", "silu", len(pieces)
    cfg = {"architectures": [arch], "hidden_size": D, "intermediate_size": N_FF,
           "num_hidden_layers": N_LAYERS, "num_attention_heads": N_HEAD, "num_key_value_heads": N_KV,
           "max_position_embeddings": 128, "hidden_act": act, "rms_norm_eps": 1e-5,
           "rope_theta": 10000.0, "tie_word_embeddings": True, "vocab_size": n_vocab,
           "bos_token_id": n_vocab - 3 if style == "bitnet-b1.58" else 1,
           "eos_token_id": n_vocab - 2 if style == "bitnet-b1.58" else 2}
    with open(os.path.join(directory, "config.json"), "w") as f:
        json.dump(cfg, f)
    tensors = {"model.embed_tokens.weight": rng.normal(0, 0.02, (n_vocab, D)).astype(np.float32),
               "model.norm.weight": rng.uniform(0.5, 1.5, D).astype(np.float32)}
    for i in range(N_LAYERS):
        for hf, shape, _ in layer_names(style):
            scale = 0.05 if len(shape) == 2 else 1.0
            a = rng.normal(0, scale, shape) if len(shape) == 2 else rng.uniform(0.5, 1.5, shape)
            if hf == "self_attn.v_proj" and i == 0:
                a[:2] = 0.0      # whole zero blocks (rows of 256) exercise TQ2_0's d = 0 case
            tensors[f"model.layers.{i}.{hf}.weight"] = a.astype(np.float32)
    write_safetensors(os.path.join(directory, "model.safetensors"), tensors, dtype)
    if dtype == "BF16":
        tensors = {k: bf16_round(v) for k, v in tensors.items()}
    return cfg, tensors


def spm_model_proto(pieces):
    def varint(v):
        out = bytearray()
        while True:
            b = v & 0x7F
            v >>= 7
            out.append(b | (0x80 if v else 0))
            if not v:
                return bytes(out)

    def field_bytes(num, b):
        return varint(num << 3 | 2) + varint(len(b)) + b
    out = b""
    for piece, score, ptype in pieces:
        msg = field_bytes(1, piece.encode()) + varint(2 << 3 | 5) + struct.pack("<f", score) + \
            varint(3 << 3 | 0) + varint(ptype)
        out += field_bytes(1, msg)
    return out


def convert(model_dir, out, *extra):
    return subprocess.run([sys.executable, CONVERT, model_dir, "-o", out, *extra],
                          capture_output=True, text=True)


class ConvertTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def path(self, name):
        return os.path.join(self.tmp.name, name)

    def check_file(self, gguf, tensors, arch, ttype, style="bitnet-b1.58"):
        meta, gt = gw.read_gguf(gguf)
        p = arch + "."
        self.assertEqual(meta["__version__"], 3)
        self.assertEqual(meta["general.architecture"], arch)
        self.assertEqual(meta[p + "embedding_length"], D)
        self.assertEqual(meta[p + "block_count"], N_LAYERS)
        self.assertEqual(meta[p + "feed_forward_length"], N_FF)
        self.assertEqual(meta[p + "attention.head_count"], N_HEAD)
        self.assertEqual(meta[p + "attention.head_count_kv"], N_KV)
        self.assertEqual(meta[p + "rope.dimension_count"], D // N_HEAD)
        self.assertEqual(meta[p + "context_length"], 128)
        self.assertAlmostEqual(meta[p + "attention.layer_norm_rms_epsilon"], 1e-5, places=9)
        self.assertEqual(meta[p + "rope.freq_base"], 10000.0)
        self.assertEqual(meta["general.file_type"], 40 if ttype == gw.GGML_I2_S else 37)
        self.assertEqual(meta["general.quantization_version"], 2)
        n_vocab = tensors["model.embed_tokens.weight"].shape[0]
        self.assertEqual(len(meta["tokenizer.ggml.tokens"]), n_vocab)
        self.assertEqual(len(meta["tokenizer.ggml.token_type"]), n_vocab)
        self.assertEqual(meta[p + "vocab_size"], n_vocab)
        if style == "bitnet-b1.58":
            self.assertEqual(meta["tokenizer.ggml.model"], "gpt2")
            self.assertEqual(meta["tokenizer.ggml.pre"], "gpt-2")
            self.assertEqual(meta["tokenizer.ggml.merges"], ["Ġ t", "h e", "Ġt he"])
            self.assertEqual(meta["tokenizer.ggml.bos_token_id"], n_vocab - 3)
            self.assertEqual(meta["tokenizer.ggml.eos_token_id"], n_vocab - 2)
            self.assertEqual(meta["tokenizer.ggml.eot_token_id"], n_vocab - 1)
            self.assertEqual(meta["tokenizer.ggml.token_type"][-3:], [3, 3, 3])
            self.assertEqual(meta["tokenizer.ggml.tokens"][-1], "<|eot_id|>")
            self.assertIn("tokenizer.chat_template", meta)
        else:
            self.assertEqual(meta["tokenizer.ggml.model"], "llama")
            self.assertEqual(meta["tokenizer.ggml.tokens"][259:262], ["▁t", "he", "▁the"])
            self.assertEqual(meta["tokenizer.ggml.token_type"][3], 6)
            self.assertEqual(meta["tokenizer.ggml.scores"][261], -3.0)
        self.assertIs(meta["tokenizer.ggml.add_bos_token"], True)

        self.assertEqual(len(gt), 2 + N_LAYERS * 11)
        shape, typ, data = gt["token_embd.weight"]
        self.assertEqual((shape, typ), ([D, n_vocab], gw.GGML_F16))
        emb = np.frombuffer(data, "<f2").astype(np.float32).reshape(n_vocab, D)
        np.testing.assert_array_equal(emb, tensors["model.embed_tokens.weight"].astype(np.float16).astype(np.float32))
        self.assertEqual(gt["output_norm.weight"][:2], ([D], gw.GGML_F32))
        self.assertNotIn("output.weight", gt)
        for i in range(N_LAYERS):
            for hf, hf_shape, gname in layer_names(style):
                shape, typ, data = gt[f"blk.{i}.{gname}.weight"]
                src = tensors[f"model.layers.{i}.{hf}.weight"]
                self.assertEqual(shape, list(hf_shape[::-1]), gname)
                if len(hf_shape) == 1:
                    self.assertEqual(typ, gw.GGML_F32)
                    np.testing.assert_array_equal(np.frombuffer(data, "<f4"), src)
                    continue
                self.assertEqual(typ, ttype, gname)
                scale = np.float32(np.abs(src).mean(dtype=np.float64))
                expect = np.clip(np.sign(src / scale) * np.floor(np.abs(src / scale) + 0.5), -1, 1)
                if ttype == gw.GGML_I2_S:
                    self.assertEqual(len(data), src.size // 4 + 32)
                    t, s = gw.unpack_i2_s(data, src.size)
                    self.assertEqual(s, scale)
                    self.assertTrue(all(b == 0 for b in data[src.size // 4 + 4:]))
                    np.testing.assert_array_equal(t.reshape(src.shape), expect)
                else:
                    self.assertEqual(len(data), src.size // 256 * 66)
                    wts, t = gw.unpack_tq2_0(data, src.size)
                    np.testing.assert_array_equal(t.reshape(src.shape), expect)
                    np.testing.assert_allclose(wts.reshape(src.shape), expect * np.float16(scale), rtol=0)
                    # d is the block absmax of the ternary weights: 0 for all-zero blocks
                    d = np.frombuffer(data, np.uint8).reshape(-1, 66)[:, 64:].copy().view("<f2").reshape(-1)
                    absmax = np.abs(expect.reshape(-1, 256)).max(axis=1)
                    np.testing.assert_array_equal(d, np.where(absmax > 0, np.float16(scale), 0))
        self.run_cli(gguf)
        return meta, gt

    def run_cli(self, gguf):
        bin_dir = os.environ.get("TERNSERVE_BIN_DIR")
        if not bin_dir:
            return
        cli = os.path.join(bin_dir, "ternserve-cli")
        r = subprocess.run([cli, "inspect", gguf], capture_output=True, text=True, timeout=120)
        self.assertEqual(r.returncode, 0, r.stderr)
        r = subprocess.run([cli, "generate", "-m", gguf, "--prompt-ids", "1,2", "-n", "2", "--json"],
                           capture_output=True, text=True, timeout=120)
        self.assertEqual(r.returncode, 0, r.stderr)
        out = json.loads(r.stdout.strip().splitlines()[-1])
        self.assertIsInstance(out, dict)

    def test_bitnet_b158_i2_s(self):
        _, tensors = make_checkpoint(self.path("b158"))
        r = convert(self.path("b158"), self.path("b158-i2_s.gguf"))
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("blk.1.ffn_down.weight", r.stdout)   # per-tensor progress
        self.check_file(self.path("b158-i2_s.gguf"), tensors, "bitnet-b1.58", gw.GGML_I2_S)

    def test_bitnet_b158_tq2_0_bf16(self):
        _, tensors = make_checkpoint(self.path("b158bf"), dtype="BF16", seed=1)
        r = convert(self.path("b158bf"), self.path("b158-tq2_0.gguf"), "--type", "tq2_0")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.check_file(self.path("b158-tq2_0.gguf"), tensors, "bitnet-b1.58", gw.GGML_TQ2_0)

    def test_bitnet_arch_path(self):
        _, tensors = make_checkpoint(self.path("b158arch"), seed=2)
        r = convert(self.path("b158arch"), self.path("b158-bitnet.gguf"), "--arch", "bitnet")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.check_file(self.path("b158-bitnet.gguf"), tensors, "bitnet", gw.GGML_I2_S)

    def test_1bitllm_style(self):
        _, tensors = make_checkpoint(self.path("onebit"), style="bitnet", seed=3)
        r = convert(self.path("onebit"), self.path("onebit.gguf"))
        self.assertEqual(r.returncode, 0, r.stderr)
        self.check_file(self.path("onebit.gguf"), tensors, "bitnet", gw.GGML_I2_S, style="bitnet")

    def test_packed_checkpoint(self):
        """Microsoft's packed layout: 4 ternaries per uint8 along the output rows + weight_scale."""
        cfg, tensors = make_checkpoint(self.path("packed"), seed=4)
        packed = {}
        for name, a in tensors.items():
            if a.ndim == 2 and name != "model.embed_tokens.weight":
                scale = np.float32(np.abs(a).mean(dtype=np.float64))
                t = np.clip(np.sign(a / scale) * np.floor(np.abs(a / scale) + 0.5), -1, 1).astype(np.int8)
                codes = (t + 1).astype(np.uint8)
                rows = t.shape[0] // 4
                packed[name] = sum(codes[k * rows:(k + 1) * rows] << (2 * k) for k in range(4)).astype(np.uint8)
                packed[name[:-len("weight")] + "weight_scale"] = np.array([scale], np.float32)
            else:
                packed[name] = a
        write_safetensors(os.path.join(self.path("packed"), "model.safetensors"), packed)
        r = convert(self.path("packed"), self.path("packed.gguf"))
        self.assertEqual(r.returncode, 0, r.stderr)
        self.check_file(self.path("packed.gguf"), tensors, "bitnet-b1.58", gw.GGML_I2_S)

    def test_unknown_architecture(self):
        make_checkpoint(self.path("unknown"), seed=5)
        p = os.path.join(self.path("unknown"), "config.json")
        cfg = json.load(open(p))
        cfg["architectures"] = ["MistralForCausalLM"]
        json.dump(cfg, open(p, "w"))
        r = convert(self.path("unknown"), self.path("unknown.gguf"))
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("MistralForCausalLM", r.stderr)
        self.assertFalse(os.path.exists(self.path("unknown.gguf")))

    def test_packers_round_trip(self):
        rng = np.random.default_rng(7)
        t = rng.integers(-1, 2, size=(3, 512)).astype(np.int8)
        got, s = gw.unpack_i2_s(gw.pack_i2_s(t, 0.25), t.size)
        np.testing.assert_array_equal(got, t.reshape(-1))
        self.assertEqual(s, 0.25)
        # byte j of a block holds weights j, j+32, j+64, j+96 in bits 7:6, 5:4, 3:2, 1:0
        one = np.zeros((1, 128), np.int8) - 1
        one[0, 32 + 5] = 1
        self.assertEqual(gw.pack_i2_s(one, 1.0)[5], 0b00100000)
        wts, t2 = gw.unpack_tq2_0(gw.pack_tq2_0(t, 0.5), t.size)
        np.testing.assert_array_equal(t2, t.reshape(-1))
        one = np.zeros((1, 256), np.int8) - 1
        one[0, 128 + 64 + 3] = 1       # second half, n = 2, m = 3 -> byte 35, bits 4..5
        self.assertEqual(gw.pack_tq2_0(one, 1.0)[35], 0b00100000)


if __name__ == "__main__":
    unittest.main()
