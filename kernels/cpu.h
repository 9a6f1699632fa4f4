// CPU feature detection and the one-time choice of kernel variants (the "ISA").
// Every op with SIMD variants dispatches through a table picked here once; nothing branches on
// the ISA inside a loop. TERNSERVE_ISA=scalar|avx2|avx512|amx in the environment forces a lower
// ISA at start-up (a request above what the CPU supports is logged and ignored).
#pragma once

namespace ts::kernels {

// kAvx2 = AVX2+FMA+F16C; kAvx512 = F/BW/VL/DQ + VNNI; kAmx = kAvx512 plus AMX-TILE/INT8 tiles
// (Sapphire Rapids on) for the multi-token ternary GEMM, and the deeper software prefetches
// Intel's cores want in the one-token passes; everything else as kAvx512.
enum class Isa { kScalar, kAvx2, kAvx512, kAmx };

// Returns "scalar", "avx2", "avx512" or "amx".
const char* IsaName(Isa isa);

// Returns the best ISA this CPU (and OS) supports. Cached after the first call.
Isa DetectBestIsa();

// Returns true where the kAvx512 (and kAmx) kernels may also use AVX512_VBMI (byte permutes):
// Ice Lake and Zen 4 on, not Skylake-X or Cascade Lake.
bool HasAvx512Vbmi();

// Returns the ISA the dispatch currently uses: the best one unless forced (env or ForceIsa).
Isa ActiveIsa();

// Makes dispatch use `isa` from now on (tests, debugging). Requires isa <= DetectBestIsa(),
// throws std::invalid_argument otherwise. Not meant to be called while kernels run on other threads.
void ForceIsa(Isa isa);

// Returns the core clock in Hz as it runs now (boost included), timed with a chain of dependent
// 64-bit multiplies (3 cycles of latency on every x86-64 core of the last decade); 0 where it
// cannot be measured (non-x86). Takes ~50 ms.
double MeasureCoreHz();

}  // namespace ts::kernels
