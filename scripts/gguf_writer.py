"""GGUF v3 writer and ternary tensor packers (numpy only).

Packers follow formats.md §2:
  I2_S  (type 36, bitnet.cpp x86 layout): n/4 bytes of 2-bit codes (0 -> -1, 1 -> 0, 2 -> +1),
        128-weight blocks of 32 bytes, byte j = weights j, j+32, j+64, j+96 in bits
        [7:6], [5:4], [3:2], [1:0]; then a 32-byte tail: f32 scale, rest zero.
  TQ2_0 (type 35, llama.cpp): 66 bytes per 256 weights, qs[64] + f16 d; per 128-weight half,
        byte m holds weights m + 32n in bits 2n..2n+1; weight = (q - 1) * d.
"""
import struct

import numpy as np

GGML_F32, GGML_F16, GGML_Q8_0, GGML_BF16, GGML_TQ1_0, GGML_TQ2_0, GGML_I2_S = 0, 1, 8, 30, 34, 35, 36
TYPE_NAMES = {0: "F32", 1: "F16", 8: "Q8_0", 30: "BF16", 34: "TQ1_0", 35: "TQ2_0", 36: "I2_S"}

# GGUF metadata value types
U8, I8, U16, I16, U32, I32, F32, BOOL, STRING, ARRAY, U64, I64, F64 = range(13)
_SCALAR = {U8: "<B", I8: "<b", U16: "<H", I16: "<h", U32: "<I", I32: "<i", F32: "<f",
           BOOL: "<?", U64: "<Q", I64: "<q", F64: "<d"}
_NP_SCALAR = {U8: "<u1", I8: "<i1", U16: "<u2", I16: "<i2", U32: "<u4", I32: "<i4", F32: "<f4",
              U64: "<u8", I64: "<i8", F64: "<f8"}

I2S_BLOCK = 128
I2S_TAIL = 32
QK_K = 256


def round_half_away(x):
    return np.sign(x) * np.floor(np.abs(x) + 0.5)


def ternarize(w):
    """BitNet b1.58 absmean quantization: scale = mean|W|, T = clamp(round(W / scale), -1, 1)."""
    w32 = np.asarray(w, dtype=np.float32)
    scale = np.float32(np.abs(w32, dtype=np.float32).mean(dtype=np.float64))
    scale = max(scale, np.float32(1e-5))
    t = np.clip(round_half_away(w32 / scale), -1, 1).astype(np.int8)
    return t, np.float32(scale)


def pack_i2_s(t, scale):
    """t: int8 ternary array (rows, ne0) with ne0 % 128 == 0. Returns the I2_S payload bytes."""
    if t.shape[-1] % I2S_BLOCK:
        raise ValueError(f"I2_S needs rows that are multiples of {I2S_BLOCK}, got {t.shape[-1]}")
    codes = (t.reshape(-1, 4, 32) + 1).astype(np.uint8)          # block, group n, byte j
    packed = (codes[:, 0] << 6) | (codes[:, 1] << 4) | (codes[:, 2] << 2) | codes[:, 3]
    tail = np.zeros(I2S_TAIL, dtype=np.uint8)
    tail[:4] = np.frombuffer(struct.pack("<f", float(scale)), dtype=np.uint8)
    return packed.astype(np.uint8).tobytes() + tail.tobytes()


def unpack_i2_s(data, n):
    """Inverse of pack_i2_s: returns (ternary int8 array of n weights, scale)."""
    raw = np.frombuffer(data, dtype=np.uint8, count=n // 4).reshape(-1, 32)
    codes = np.stack([(raw >> 6) & 3, (raw >> 4) & 3, (raw >> 2) & 3, raw & 3], axis=1)
    scale = struct.unpack_from("<f", data, n // 4)[0]
    return codes.reshape(-1).astype(np.int8) - 1, scale


def pack_tq2_0(t, scale):
    """t: int8 ternary array (rows, ne0) with ne0 % 256 == 0; d = scale (0 for all-zero blocks)."""
    if t.shape[-1] % QK_K:
        raise ValueError(f"TQ2_0 needs rows that are multiples of {QK_K}, got {t.shape[-1]}")
    blocks = t.reshape(-1, QK_K)
    codes = (blocks.reshape(-1, 2, 4, 32) + 1).astype(np.uint8)  # block, half, n, m
    qs = codes[:, :, 0] | (codes[:, :, 1] << 2) | (codes[:, :, 2] << 4) | (codes[:, :, 3] << 6)
    qs = qs.reshape(-1, 64).astype(np.uint8)
    d = np.where(np.any(blocks != 0, axis=1), np.float16(scale), np.float16(0)).astype("<f2")
    out = np.empty((blocks.shape[0], 66), dtype=np.uint8)
    out[:, :64] = qs
    out[:, 64:] = d.view(np.uint8).reshape(-1, 2)
    return out.tobytes()


def unpack_tq2_0(data, n):
    """Inverse of pack_tq2_0: returns (float32 weights (q - 1) * d, int8 codes - 1)."""
    raw = np.frombuffer(data, dtype=np.uint8, count=n // QK_K * 66).reshape(-1, 66)
    qs = raw[:, :64].reshape(-1, 2, 32)
    d = raw[:, 64:].copy().view("<f2").astype(np.float32).reshape(-1)
    codes = np.stack([(qs >> (2 * k)) & 3 for k in range(4)], axis=2)  # block, half, n, m
    t = codes.reshape(-1, QK_K).astype(np.int8) - 1
    return (t.astype(np.float32) * d[:, None]).reshape(-1), t.reshape(-1)


def tensor_nbytes(ggml_type, shape):
    n = int(np.prod(shape))
    if ggml_type == GGML_F32:
        return 4 * n
    if ggml_type in (GGML_F16, GGML_BF16):
        return 2 * n
    if ggml_type == GGML_I2_S:
        return n // 4 + I2S_TAIL
    if ggml_type == GGML_TQ2_0:
        return n // QK_K * 66
    raise ValueError(f"unsupported tensor type {ggml_type}")


class GGUFWriter:
    def __init__(self, alignment=32):
        self.alignment = alignment
        self.kv = []        # (key, type, value, array elem type)
        self.tensors = []   # (name, shape ggml order, type, bytes)

    def add(self, key, vtype, value, elem_type=None):
        self.kv.append((key, vtype, value, elem_type))

    def add_string(self, key, v):
        self.add(key, STRING, v)

    def add_u32(self, key, v):
        self.add(key, U32, int(v))

    def add_f32(self, key, v):
        self.add(key, F32, float(v))

    def add_bool(self, key, v):
        self.add(key, BOOL, bool(v))

    def add_array(self, key, elem_type, values):
        self.add(key, ARRAY, values, elem_type)

    def add_tensor(self, name, ggml_shape, ggml_type, data):
        expect = tensor_nbytes(ggml_type, ggml_shape)
        if len(data) != expect:
            raise ValueError(f"{name}: {len(data)} bytes, expected {expect}")
        self.tensors.append((name, [int(s) for s in ggml_shape], ggml_type, data))

    @staticmethod
    def _str(s):
        b = s.encode("utf-8")
        return struct.pack("<Q", len(b)) + b

    def _value(self, vtype, value, elem_type):
        if vtype == STRING:
            return self._str(value)
        if vtype == ARRAY:
            out = [struct.pack("<IQ", elem_type, len(value))]
            if elem_type == STRING:
                out.extend(self._str(v) for v in value)
            elif elem_type == BOOL:
                out.append(np.asarray(value, dtype=np.uint8).tobytes())
            else:
                out.append(np.asarray(value, dtype=_NP_SCALAR[elem_type]).tobytes())
            return b"".join(out)
        return struct.pack(_SCALAR[vtype], value)

    def write(self, path, progress=None):
        head = [b"GGUF", struct.pack("<IQQ", 3, len(self.tensors), len(self.kv))]
        for key, vtype, value, elem_type in self.kv:
            head += [self._str(key), struct.pack("<I", vtype), self._value(vtype, value, elem_type)]
        offset = 0
        offsets = []
        for name, shape, gtype, data in self.tensors:
            head += [self._str(name), struct.pack("<I", len(shape)),
                     struct.pack(f"<{len(shape)}Q", *shape), struct.pack("<IQ", gtype, offset)]
            offsets.append(offset)
            offset += len(data)
            offset += -offset % self.alignment
        header = b"".join(head)
        with open(path, "wb") as f:
            f.write(header)
            f.write(b"\0" * (-len(header) % self.alignment))
            pos = 0
            for (name, shape, gtype, data), off in zip(self.tensors, offsets):
                f.write(b"\0" * (off - pos))
                f.write(data)
                pos = off + len(data)
                if progress:
                    progress(name, shape, gtype, len(data))
            f.write(b"\0" * (-pos % self.alignment))


def read_gguf(path):
    """A small GGUF reader for tests: returns (metadata dict, {name: (shape, type, bytes)})."""
    buf = open(path, "rb").read()
    pos = 0

    def take(fmt):
        nonlocal pos
        v = struct.unpack_from(fmt, buf, pos)
        pos += struct.calcsize(fmt)
        return v[0] if len(v) == 1 else v

    def string():
        nonlocal pos
        n = take("<Q")
        s = buf[pos:pos + n].decode("utf-8")
        pos += n
        return s

    def value(vtype):
        nonlocal pos
        if vtype == STRING:
            return string()
        if vtype == ARRAY:
            et, n = take("<I"), take("<Q")
            if et == STRING:
                return [string() for _ in range(n)]
            if et == BOOL:
                return [take("<?") for _ in range(n)]
            a = np.frombuffer(buf, dtype=_NP_SCALAR[et], count=n, offset=pos)
            pos += a.nbytes
            return a.tolist()
        return take(_SCALAR[vtype])

    assert buf[:4] == b"GGUF", "not a GGUF file"
    pos = 4
    version, n_tensors, n_kv = take("<I"), take("<Q"), take("<Q")
    meta = {"__version__": version}
    for _ in range(n_kv):
        key = string()
        meta[key] = value(take("<I"))
    infos = []
    for _ in range(n_tensors):
        name = string()
        nd = take("<I")
        shape = [take("<Q") for _ in range(nd)]
        gtype, off = take("<I"), take("<Q")
        infos.append((name, shape, gtype, off))
    align = meta.get("general.alignment", 32)
    data_start = pos + (-pos % align)
    tensors = {}
    for name, shape, gtype, off in infos:
        start = data_start + off
        tensors[name] = (shape, gtype, buf[start:start + tensor_nbytes(gtype, shape)])
    return meta, tensors
