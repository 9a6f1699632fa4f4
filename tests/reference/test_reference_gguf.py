#!/usr/bin/python3
"""Unit tests of scripts/reference/ (GGUF reader and tensor decoders) on hand-built bytes.

The fixture models check I2_S, TQ1_0, TQ2_0 and Q6_K decoding against F32 (in
compare_reference.py); this covers what they do not: GGUF v2, every metadata value type,
non-default alignment, BF16, Q8_0, and the bit positions of each ternary layout
(encoded here independently from formats.md section 2).
"""
import os
import struct
import sys
import tempfile
import unittest

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "scripts"))

from reference import dequant  # noqa: E402
from reference.gguf import GGUFError, GGUFFile  # noqa: E402


def gguf_string(s):
    b = s.encode("utf-8")
    return struct.pack("<Q", len(b)) + b


def build_gguf(version, kvs, tensors, alignment=None):
    """kvs: [(key, type_id, packed value bytes)]; tensors: [(name, shape, type_id, payload)]."""
    if alignment is not None:
        kvs = kvs + [("general.alignment", 4, struct.pack("<I", alignment))]
    align = alignment or 32
    out = b"GGUF" + struct.pack("<IQQ", version, len(tensors), len(kvs))
    for key, t, val in kvs:
        out += gguf_string(key) + struct.pack("<I", t) + val
    offset, data = 0, b""
    for name, shape, t, payload in tensors:
        out += gguf_string(name) + struct.pack("<I", len(shape)) + b"".join(struct.pack("<Q", d) for d in shape)
        out += struct.pack("<IQ", t, offset)
        pad = (-len(payload)) % align
        data += payload + b"\0" * pad
        offset += len(payload) + pad
    out += b"\0" * ((-len(out)) % align)
    return out + data


class ReaderTest(unittest.TestCase):
    def parse(self, raw):
        with tempfile.NamedTemporaryFile(suffix=".gguf", delete=False) as f:
            f.write(raw)
            path = f.name
        try:
            return GGUFFile(path)
        finally:
            os.unlink(path)

    def test_all_value_types_v2_v3_alignment(self):
        kvs = [
            ("u8", 0, struct.pack("<B", 200)), ("i8", 1, struct.pack("<b", -5)),
            ("u16", 2, struct.pack("<H", 60000)), ("i16", 3, struct.pack("<h", -30000)),
            ("u32", 4, struct.pack("<I", 4000000000)), ("i32", 5, struct.pack("<i", -2000000000)),
            ("f32", 6, struct.pack("<f", 1.5)), ("bool", 7, struct.pack("<?", True)),
            ("str", 8, gguf_string("héllo")),
            ("arr_i32", 9, struct.pack("<IQ", 5, 3) + struct.pack("<3i", 1, -2, 3)),
            ("arr_str", 9, struct.pack("<IQ", 8, 2) + gguf_string("a") + gguf_string("bc")),
            ("arr_arr", 9, struct.pack("<IQ", 9, 1) + struct.pack("<IQ", 0, 2) + b"\x01\x02"),
            ("u64", 10, struct.pack("<Q", 2**63 + 1)), ("i64", 11, struct.pack("<q", -2**62)),
            ("f64", 12, struct.pack("<d", 0.1)),
        ]
        w = np.arange(6, dtype="<f4")
        for version in (2, 3):
            for alignment in (None, 64):
                g = self.parse(build_gguf(version, kvs, [("a", (3, 2), 0, w.tobytes()),
                                                         ("b", (2,), 1, np.array([1, -2], "<f2").tobytes())],
                                          alignment))
                m = g.metadata
                self.assertEqual(g.version, version)
                self.assertEqual((m["u8"], m["i8"], m["u16"], m["i16"]), (200, -5, 60000, -30000))
                self.assertEqual((m["u32"], m["i32"], m["u64"], m["i64"]), (4000000000, -2000000000, 2**63 + 1, -2**62))
                self.assertEqual((m["f32"], m["bool"], m["str"], m["f64"]), (1.5, True, "héllo", 0.1))
                self.assertEqual(list(m["arr_i32"]), [1, -2, 3])
                self.assertEqual(m["arr_str"], ["a", "bc"])
                self.assertEqual(list(m["arr_arr"][0]), [1, 2])
                self.assertEqual(g.data_offset % (alignment or 32), 0)
                a = dequant.decode_tensor(g.tensors["a"])
                self.assertEqual(a.shape, (2, 3))
                np.testing.assert_array_equal(a, w.reshape(2, 3))
                np.testing.assert_array_equal(dequant.decode_tensor(g.tensors["b"]), [1, -2])

    def test_rejects_bad_files(self):
        with self.assertRaises(GGUFError):
            self.parse(b"GGUX" + b"\0" * 40)
        with self.assertRaises(GGUFError):
            self.parse(build_gguf(1, [], []))
        with self.assertRaises(GGUFError):  # tensor data past the end
            self.parse(build_gguf(3, [], [("a", (64,), 0, b"")]))


class DecoderTest(unittest.TestCase):
    def setUp(self):
        self.rng = np.random.default_rng(5)

    def test_bf16(self):
        v = np.array([1.0, -2.5, 3.140625, 0.0], dtype=np.float32)
        raw = (v.view(np.uint32) >> 16).astype("<u2").tobytes()
        np.testing.assert_array_equal(dequant.decode_bf16(raw, 4), v)

    def test_q8_0(self):
        d = np.float16(0.0123)
        qs = self.rng.integers(-128, 128, 32).astype(np.int8)
        raw = np.array([d], "<f2").tobytes() + qs.tobytes()
        np.testing.assert_array_equal(dequant.decode_q8_0(raw * 2, 64), np.tile(float(d) * qs, 2))

    def trits(self, n):
        return self.rng.integers(-1, 2, n).astype(np.int8)

    def test_tq2_0(self):
        t = self.trits(256)
        qs = np.zeros(64, np.uint8)
        for i in range(256):
            half, r = divmod(i, 128)
            k, m = divmod(r, 32)
            qs[32 * half + m] |= (t[i] + 1) << (2 * k)
        raw = qs.tobytes() + np.array([0.5], "<f2").tobytes()
        np.testing.assert_array_equal(dequant.decode_tq2_0(raw, 256), 0.5 * t)

    def test_tq1_0(self):
        t = self.trits(256)

        def pack(ws):  # first weight most significant, stored as ceil(v * 256 / 243)
            v = 0
            for w in ws:
                v = v * 3 + int(w) + 1
            v *= 3 ** (5 - len(ws))
            return (v * 256 + 242) // 243
        qs = [pack([t[m + 32 * k] for k in range(5)]) for m in range(32)]
        qs += [pack([t[160 + m + 16 * k] for k in range(5)]) for m in range(16)]
        qh = [pack([t[240 + j + 4 * k] for k in range(4)]) for j in range(4)]
        raw = bytes(qs + qh) + np.array([2.0], "<f2").tobytes()
        np.testing.assert_array_equal(dequant.decode_tq1_0(raw, 256), 2.0 * t)

    def test_i2_s(self):
        t = self.trits(256)
        codes = np.zeros(64, np.uint8)
        for i in range(256):
            block, r = divmod(i, 128)
            k, j = divmod(r, 32)
            codes[32 * block + j] |= (t[i] + 1) << (6 - 2 * k)
        raw = codes.tobytes() + np.array([0.75] * 8, "<f4").tobytes()
        np.testing.assert_array_equal(dequant.decode_i2_s(raw, 256), 0.75 * t)

    def test_q6_k(self):
        q = self.rng.integers(-32, 32, 256)
        scales = self.rng.integers(-128, 128, 16).astype(np.int8)
        ql = np.zeros(128, np.uint8)
        qh = np.zeros(64, np.uint8)
        want = np.zeros(256)
        d = 0.001
        for half in range(2):
            for l in range(32):
                for j, (lo_idx, lo_shift, hi_shift) in enumerate(((l, 0, 0), (l + 32, 0, 2), (l, 4, 4), (l + 32, 4, 6))):
                    i = 128 * half + l + 32 * j
                    u = int(q[i]) + 32
                    ql[64 * half + lo_idx] |= (u & 15) << lo_shift
                    qh[32 * half + l] |= (u >> 4) << hi_shift
                    want[i] = float(np.float16(d)) * int(scales[8 * half + l // 16 + 2 * j]) * int(q[i])
        raw = ql.tobytes() + qh.tobytes() + scales.tobytes() + np.array([d], "<f2").tobytes()
        np.testing.assert_allclose(dequant.decode_q6_k(raw, 256), want, rtol=0, atol=1e-12)


if __name__ == "__main__":
    unittest.main()
