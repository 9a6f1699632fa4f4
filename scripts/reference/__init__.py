"""ternserve's reference forward pass: GGUF reader, tensor decoders and a float64 numpy
forward pass for the BitNet architectures (`bitnet-b1.58` / `bitnet-25`, `bitnet`).

Independent of the C++ engine on purpose: written from ../shared/formats.md, used by
tests/reference/compare_reference.py to check the engine's numbers.
"""
