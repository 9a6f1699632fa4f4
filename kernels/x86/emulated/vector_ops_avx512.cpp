// The AVX-512 kernel file on SIMDe's portable intrinsics (test-only; see ../avx512_intrinsics.h).
#include "kernels/x86/vector_ops_avx512.cpp"
