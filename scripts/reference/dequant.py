"""Tensor decoders: GGUF payload -> float64 numpy array (formats.md section 2).

One small function per ggml type, each taking the raw bytes and the element count and
returning a flat float64 array in file order. decode_tensor() reshapes to numpy order
(ggml {ne0, ne1} -> array [ne1, ne0], so a weight matrix comes out as [out, in]).
"""
import numpy as np

from .gguf import GGUFError


def _blocks(data, n, block_weights, block_bytes):
    """Returns the payload as a uint8 array [n_blocks, block_bytes]."""
    n_blocks = n // block_weights
    raw = np.frombuffer(data, dtype=np.uint8, count=n_blocks * block_bytes)
    return raw.reshape(n_blocks, block_bytes)


def _f16(two_bytes):
    """uint8 [..., 2] (little-endian IEEE half) -> float64 [...]."""
    return np.ascontiguousarray(two_bytes).view("<f2")[..., 0].astype(np.float64)


def decode_f32(data, n):
    return np.frombuffer(data, dtype="<f4", count=n).astype(np.float64)


def decode_f16(data, n):
    return np.frombuffer(data, dtype="<f2", count=n).astype(np.float64)


def decode_bf16(data, n):
    # bf16 is the top half of an f32.
    bits = np.frombuffer(data, dtype="<u2", count=n).astype(np.uint32) << 16
    return bits.view(np.float32).astype(np.float64)


def decode_q8_0(data, n):
    # struct { f16 d; int8 qs[32]; }: weight = d * qs[j].
    b = _blocks(data, n, 32, 34)
    d = _f16(b[:, 0:2])
    qs = b[:, 2:34].view(np.int8).astype(np.float64)
    return (d[:, None] * qs).reshape(-1)


def decode_q6_k(data, n):
    # struct { u8 ql[128]; u8 qh[64]; i8 scales[16]; f16 d; } per 256 weights.
    b = _blocks(data, n, 256, 210)
    ql = b[:, 0:128].astype(np.int32)
    qh = b[:, 128:192].astype(np.int32)
    scales = b[:, 192:208].view(np.int8).astype(np.float64)
    d = _f16(b[:, 208:210])
    out = np.empty((b.shape[0], 256), dtype=np.float64)
    l = np.arange(32)
    for half in range(2):
        ql_h = ql[:, 64 * half:64 * half + 64]
        qh_h = qh[:, 32 * half:32 * half + 32]
        sc_h = scales[:, 8 * half:8 * half + 8]
        is_ = l // 16  # 0 for l < 16, 1 otherwise
        q0 = ((ql_h[:, l] & 15) | (((qh_h[:, l] >> 0) & 3) << 4)) - 32
        q1 = ((ql_h[:, l + 32] & 15) | (((qh_h[:, l] >> 2) & 3) << 4)) - 32
        q2 = ((ql_h[:, l] >> 4) | (((qh_h[:, l] >> 4) & 3) << 4)) - 32
        q3 = ((ql_h[:, l + 32] >> 4) | (((qh_h[:, l] >> 6) & 3) << 4)) - 32
        base = 128 * half
        out[:, base + l] = d[:, None] * sc_h[:, is_ + 0] * q0
        out[:, base + l + 32] = d[:, None] * sc_h[:, is_ + 2] * q1
        out[:, base + l + 64] = d[:, None] * sc_h[:, is_ + 4] * q2
        out[:, base + l + 96] = d[:, None] * sc_h[:, is_ + 6] * q3
    return out.reshape(-1)


def decode_tq2_0(data, n):
    # struct { u8 qs[64]; f16 d; } per 256 weights. In each 128-weight half (32 bytes),
    # byte m holds weights m + 32k in bits 2k..2k+1 (k = 0 lowest). weight = (q - 1) * d.
    b = _blocks(data, n, 256, 66)
    qs = b[:, 0:64]
    d = _f16(b[:, 64:66])
    trits = np.empty((b.shape[0], 256), dtype=np.int8)
    for half in range(2):
        bytes_ = qs[:, 32 * half:32 * half + 32]
        for k in range(4):
            q = (bytes_ >> (2 * k)) & 3
            trits[:, 128 * half + 32 * k:128 * half + 32 * k + 32] = q.astype(np.int8) - 1
    return (trits * d[:, None]).reshape(-1)


def _tq1_trit(byte_array, k):
    """Trit k (0 = most significant) of bytes holding ceil(v * 256 / 243): ((u8)(b * 3^k) * 3) >> 8."""
    shifted = (byte_array.astype(np.uint32) * (3 ** k)) & 0xFF  # uint8 wrap
    return ((shifted * 3) >> 8).astype(np.int8)  # 0, 1, 2


def decode_tq1_0(data, n):
    # struct { u8 qs[48]; u8 qh[4]; f16 d; } per 256 weights, 5 trits per byte (4 in qh).
    # qs[0..31]: byte m holds weights m + 32k (k = 0..4)        -> weights 0..159
    # qs[32..47]: byte m holds weights 160 + m + 16k (k = 0..4) -> weights 160..239
    # qh[0..3]: byte j holds weights 240 + j + 4k (k = 0..3)    -> weights 240..255
    b = _blocks(data, n, 256, 54)
    qs_a = b[:, 0:32]
    qs_b = b[:, 32:48]
    qh = b[:, 48:52]
    d = _f16(b[:, 52:54])
    t = np.empty((b.shape[0], 256), dtype=np.int8)
    for k in range(5):
        t[:, 32 * k:32 * k + 32] = _tq1_trit(qs_a, k)
        t[:, 160 + 16 * k:160 + 16 * k + 16] = _tq1_trit(qs_b, k)
    for k in range(4):
        t[:, 240 + 4 * k:240 + 4 * k + 4] = _tq1_trit(qh, k)
    return ((t - 1) * d[:, None]).reshape(-1)


def decode_i2_s(data, n):
    # n/4 bytes of 2-bit codes (0 -> -1, 1 -> 0, 2 -> +1), then a 32-byte tail whose first
    # 4 bytes are the per-tensor f32 scale. x86 layout: blocks of 128 weights in 32 bytes,
    # byte j holds weights j, j+32, j+64, j+96 in bits [7:6], [5:4], [3:2], [1:0].
    if n % 128 != 0:
        raise GGUFError("I2_S: %d weights is not a multiple of 128" % n)
    codes_bytes = np.frombuffer(data, dtype=np.uint8, count=n // 4).reshape(-1, 32)
    scale = float(np.frombuffer(data, dtype="<f4", count=1, offset=n // 4)[0])
    codes = np.empty((codes_bytes.shape[0], 128), dtype=np.int8)
    for k, shift in enumerate((6, 4, 2, 0)):
        codes[:, 32 * k:32 * k + 32] = (codes_bytes >> shift) & 3
    if np.any(codes == 3):
        raise GGUFError("I2_S: code 3 found (not a ternary value)")
    return ((codes - 1) * scale).reshape(-1).astype(np.float64)


DECODERS = {
    "F32": decode_f32,
    "F16": decode_f16,
    "BF16": decode_bf16,
    "Q8_0": decode_q8_0,
    "Q6_K": decode_q6_k,
    "TQ1_0": decode_tq1_0,
    "TQ2_0": decode_tq2_0,
    "I2_S": decode_i2_s,
}


def decode_tensor(info):
    """Returns the tensor as float64 in numpy order (ggml shape reversed)."""
    decoder = DECODERS.get(info.type_name)
    if decoder is None:
        raise GGUFError("tensor %s: no decoder for type %s" % (info.name, info.type_name))
    flat = decoder(info.data, info.n_elements)
    return flat.reshape(tuple(reversed(info.shape)))
