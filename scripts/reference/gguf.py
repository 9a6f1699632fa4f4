"""A small GGUF reader (versions 2 and 3, little-endian).

Layout: magic "GGUF", u32 version, u64 tensor count, u64 metadata count, the metadata
key/value pairs, the tensor infos, padding to `general.alignment` (default 32), tensor data.
Every tensor's offset is relative to the start of the data section.
"""
import struct

import numpy as np

# Metadata value types.
UINT8, INT8, UINT16, INT16, UINT32, INT32, FLOAT32, BOOL, STRING, ARRAY, UINT64, INT64, FLOAT64 = range(13)

# Fixed-size scalar types: struct format and numpy dtype.
_SCALAR = {
    UINT8: ("<B", np.uint8), INT8: ("<b", np.int8),
    UINT16: ("<H", np.uint16), INT16: ("<h", np.int16),
    UINT32: ("<I", np.uint32), INT32: ("<i", np.int32),
    FLOAT32: ("<f", np.float32), BOOL: ("<?", np.bool_),
    UINT64: ("<Q", np.uint64), INT64: ("<q", np.int64),
    FLOAT64: ("<d", np.float64),
}

# ggml tensor types this reader knows: id -> (name, weights per block, bytes per block).
# I2_S is special (2 bits per weight plus a 32-byte tail per tensor), see tensor_nbytes().
TENSOR_TYPES = {
    0: ("F32", 1, 4),
    1: ("F16", 1, 2),
    8: ("Q8_0", 32, 34),
    14: ("Q6_K", 256, 210),
    30: ("BF16", 1, 2),
    34: ("TQ1_0", 256, 54),
    35: ("TQ2_0", 256, 66),
    36: ("I2_S", 4, 1),
}
I2_S_TAIL = 32


class GGUFError(Exception):
    pass


class TensorInfo:
    def __init__(self, name, shape, type_id, offset):
        self.name = name
        self.shape = shape          # ggml order: shape[0] is the contiguous (input) dimension
        self.type_id = type_id
        self.offset = offset        # relative to the data section
        self.data = None            # memoryview of the payload, set by GGUFFile

    @property
    def type_name(self):
        return TENSOR_TYPES.get(self.type_id, ("type%d" % self.type_id,))[0]

    @property
    def n_elements(self):
        n = 1
        for d in self.shape:
            n *= d
        return n

    def __repr__(self):
        return "TensorInfo(%s, %s, %s)" % (self.name, self.shape, self.type_name)


def tensor_nbytes(info):
    if info.type_id not in TENSOR_TYPES:
        raise GGUFError("tensor %s: unsupported ggml type %d" % (info.name, info.type_id))
    name, block, block_bytes = TENSOR_TYPES[info.type_id]
    n = info.n_elements
    if n % block != 0:
        raise GGUFError("tensor %s: %d elements is not a multiple of the %s block (%d)" % (info.name, n, name, block))
    size = n // block * block_bytes
    if name == "I2_S":
        size += I2_S_TAIL
    return size


class _Reader:
    def __init__(self, buf):
        self.buf = buf
        self.pos = 0

    def scalar(self, fmt):
        (v,) = struct.unpack_from(fmt, self.buf, self.pos)
        self.pos += struct.calcsize(fmt)
        return v

    def u32(self):
        return self.scalar("<I")

    def u64(self):
        return self.scalar("<Q")

    def string(self):
        n = self.u64()
        if self.pos + n > len(self.buf):
            raise GGUFError("string runs past the end of the file")
        s = bytes(self.buf[self.pos:self.pos + n]).decode("utf-8", errors="replace")
        self.pos += n
        return s

    def value(self, vtype):
        if vtype in _SCALAR:
            return self.scalar(_SCALAR[vtype][0])
        if vtype == STRING:
            return self.string()
        if vtype == ARRAY:
            etype = self.u32()
            count = self.u64()
            if etype in _SCALAR:  # numeric arrays in one go
                dtype = np.dtype(_SCALAR[etype][1]).newbyteorder("<")
                nbytes = count * dtype.itemsize
                if self.pos + nbytes > len(self.buf):
                    raise GGUFError("array runs past the end of the file")
                arr = np.frombuffer(self.buf, dtype=dtype, count=count, offset=self.pos)
                self.pos += nbytes
                return arr
            return [self.value(etype) for _ in range(count)]
        raise GGUFError("unknown metadata value type %d at byte %d" % (vtype, self.pos))


class GGUFFile:
    """Parsed GGUF file: .version, .metadata (dict), .tensors (dict name -> TensorInfo, file order)."""

    def __init__(self, path):
        with open(path, "rb") as f:
            self.raw = f.read()
        buf = memoryview(self.raw)
        r = _Reader(buf)
        if bytes(buf[:4]) != b"GGUF":
            raise GGUFError("%s: not a GGUF file (bad magic)" % path)
        r.pos = 4
        self.version = r.u32()
        if self.version not in (2, 3):
            raise GGUFError("%s: GGUF version %d not supported (2 and 3 are)" % (path, self.version))
        n_tensors = r.u64()
        n_kv = r.u64()

        self.metadata = {}
        for _ in range(n_kv):
            key = r.string()
            vtype = r.u32()
            self.metadata[key] = r.value(vtype)

        self.tensors = {}
        for _ in range(n_tensors):
            name = r.string()
            n_dims = r.u32()
            shape = tuple(r.u64() for _ in range(n_dims))
            type_id = r.u32()
            offset = r.u64()
            self.tensors[name] = TensorInfo(name, shape, type_id, offset)

        self.alignment = int(self.metadata.get("general.alignment", 32))
        if self.alignment <= 0 or self.alignment & (self.alignment - 1):
            raise GGUFError("general.alignment %d is not a power of two" % self.alignment)
        self.data_offset = (r.pos + self.alignment - 1) // self.alignment * self.alignment

        for t in self.tensors.values():
            if t.offset % self.alignment != 0:
                raise GGUFError("tensor %s: offset %d not aligned to %d" % (t.name, t.offset, self.alignment))
            start = self.data_offset + t.offset
            end = start + tensor_nbytes(t)
            if end > len(self.raw):
                raise GGUFError("tensor %s: data runs past the end of the file" % t.name)
            t.data = buf[start:end]

    def get(self, key, default=None):
        return self.metadata.get(key, default)
