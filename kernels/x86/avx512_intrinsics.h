// The AVX-512 intrinsics the *_avx512.cpp kernels use: <immintrin.h> in the product.
//
// Built with TS_EMULATE_AVX512 (only the test library ts_kernels_avx512_emulated), SIMDe's
// portable implementations stand in for them, so the AVX-512 kernels run, and are compared with
// the scalar reference, on CPUs without AVX-512. The few intrinsics Debian's SIMDe (0.7.4) lacks
// are defined below, lane by lane, straight from Intel's descriptions, and so is one it gets
// wrong (roundscale).
#pragma once

#if !defined(TS_EMULATE_AVX512)
#include <immintrin.h>

namespace ts::kernels::internal {
// An empty asm that "changes" v: GCC must keep v in a register from here on and cannot fold its
// load into each instruction that reads it (a kernel that reuses a loaded vector wants one load).
inline void KeepInRegister(__m512i& v) { asm("" : "+v"(v)); }
// acc += vpdpbusd(u8, s8), accumulating in place. With the intrinsic, GCC 12 copied the
// accumulators of a 16-accumulator loop to fresh registers at every step and spilled some of
// them to the stack inside the loop.
inline void DotAccumulate(__m512i& acc, __m512i u8, __m512i s8) {
  asm("vpdpbusd %2, %1, %0" : "+v"(acc) : "v"(u8), "vm"(s8));
}
}  // namespace ts::kernels::internal
#else
#define SIMDE_ENABLE_NATIVE_ALIASES
#include <simde/x86/avx512.h>

#include <cmath>
#include <cstdint>
#include <cstring>

#include "kernels/f16.h"

namespace ts::kernels::internal::emulated {

inline void Store(int32_t out[16], simde__m512i v) { simde_mm512_storeu_si512(out, v); }
inline void Store(float out[16], simde__m512 v) { simde_mm512_storeu_ps(out, v); }
inline simde__m512i LoadI32(const int32_t in[16]) { return simde_mm512_loadu_si512(in); }
inline simde__m512 LoadF32(const float in[16]) { return simde_mm512_loadu_ps(in); }

inline int ReduceAddEpi32(simde__m512i v) {
  int32_t lanes[16];
  Store(lanes, v);
  uint32_t sum = 0;  // the instruction sequence wraps; unsigned keeps that defined here
  for (int32_t lane : lanes) sum += static_cast<uint32_t>(lane);
  return static_cast<int>(sum);
}

inline float ReduceAddPs(simde__m512 v) {
  float lanes[16];
  Store(lanes, v);
  // The same pairwise tree as GCC's _mm512_reduce_add_ps (halves, then quarters, ...).
  for (int width = 8; width >= 1; width /= 2) {
    for (int i = 0; i < width; ++i) lanes[i] += lanes[i + width];
  }
  return lanes[0];
}

inline float ReduceMaxPs(simde__m512 v) {
  float lanes[16];
  Store(lanes, v);
  float m = lanes[0];
  for (float lane : lanes) m = lane > m ? lane : m;
  return m;
}

inline simde__m512i SraiEpi32(simde__m512i v, unsigned shift) {
  int32_t lanes[16];
  Store(lanes, v);
  for (int32_t& lane : lanes) lane >>= (shift > 31 ? 31 : shift);  // arithmetic (C++20)
  return LoadI32(lanes);
}

inline simde__m512 CvtEpi32Ps(simde__m512i v) {
  int32_t lanes[16];
  Store(lanes, v);
  float out[16];
  for (int i = 0; i < 16; ++i) out[i] = static_cast<float>(lanes[i]);
  return LoadF32(out);
}

inline simde__m512i CvttPsEpi32(simde__m512 v) {
  float lanes[16];
  Store(lanes, v);
  int32_t out[16];
  for (int i = 0; i < 16; ++i) {
    // Out of range and NaN give the "integer indefinite" value, as the instruction does.
    out[i] = std::isfinite(lanes[i]) && lanes[i] > -2147483904.0f && lanes[i] < 2147483648.0f
                 ? static_cast<int32_t>(lanes[i])
                 : INT32_MIN;
  }
  return LoadI32(out);
}

inline simde__m512i CvtEpi8Epi32(simde__m128i v) {
  int8_t bytes[16];
  simde_mm_storeu_si128(reinterpret_cast<simde__m128i*>(bytes), v);
  int32_t out[16];
  for (int i = 0; i < 16; ++i) out[i] = bytes[i];
  return LoadI32(out);
}

inline simde__m128i CvtEpi32Epi8(simde__m512i v) {  // truncates each lane to its low byte
  int32_t lanes[16];
  Store(lanes, v);
  int8_t bytes[16];
  for (int i = 0; i < 16; ++i) bytes[i] = static_cast<int8_t>(lanes[i]);
  return simde_mm_loadu_si128(reinterpret_cast<const simde__m128i*>(bytes));
}

inline simde__m512 CvtPhPs(simde__m256i v) {
  uint16_t halves[16];
  simde_mm256_storeu_si256(reinterpret_cast<simde__m256i*>(halves), v);
  float out[16];
  for (int i = 0; i < 16; ++i) out[i] = F16ToF32(halves[i]);
  return LoadF32(out);
}

// SIMDe 0.7.4 keeps the wrong number of fraction bits (imm8 = 0x0B truncates to 1/8ths), so
// this one replaces its version: imm8[7:4] fraction bits kept, imm8[1:0] the rounding mode
// (imm8[2], "use MXCSR", is taken as round-to-nearest-even, the default MXCSR).
inline simde__m512 RoundscalePs(simde__m512 v, int imm8) {
  float lanes[16];
  Store(lanes, v);
  const float scale = std::ldexp(1.0f, (imm8 >> 4) & 15);
  const int mode = (imm8 & 4) != 0 ? 0 : imm8 & 3;
  for (float& lane : lanes) {
    const float scaled = lane * scale;
    float rounded = std::nearbyint(scaled);
    if (mode == 1) rounded = std::floor(scaled);
    if (mode == 2) rounded = std::ceil(scaled);
    if (mode == 3) rounded = std::trunc(scaled);
    lane = rounded / scale;
  }
  return LoadF32(lanes);
}

// Reads only the lanes in the mask (the instruction does not fault on masked-off lanes).
inline simde__m512 MaskzLoaduPs(uint16_t mask, const void* p) {
  float out[16] = {};
  for (int i = 0; i < 16; ++i) {
    if (mask & (1u << i)) std::memcpy(&out[i], static_cast<const float*>(p) + i, sizeof(float));
  }
  return LoadF32(out);
}

inline void MaskCvtsepi32StoreuEpi8(void* p, uint16_t mask, simde__m512i v) {
  int32_t lanes[16];
  Store(lanes, v);
  for (int i = 0; i < 16; ++i) {
    if (!(mask & (1u << i))) continue;
    const int32_t saturated = lanes[i] < -128 ? -128 : (lanes[i] > 127 ? 127 : lanes[i]);
    static_cast<int8_t*>(p)[i] = static_cast<int8_t>(saturated);
  }
}

}  // namespace ts::kernels::internal::emulated

namespace ts::kernels::internal {
inline void KeepInRegister(simde__m512i&) {}  // SIMDe's vectors are structs: nothing to pin
inline void DotAccumulate(simde__m512i& acc, simde__m512i u8, simde__m512i s8) {
  acc = simde_mm512_dpbusd_epi32(acc, u8, s8);
}
}  // namespace ts::kernels::internal

#define _mm512_reduce_add_epi32(v) ::ts::kernels::internal::emulated::ReduceAddEpi32(v)
#define _mm512_reduce_add_ps(v) ::ts::kernels::internal::emulated::ReduceAddPs(v)
#define _mm512_reduce_max_ps(v) ::ts::kernels::internal::emulated::ReduceMaxPs(v)
#define _mm512_srai_epi32(v, s) ::ts::kernels::internal::emulated::SraiEpi32(v, s)
#define _mm512_cvtepi32_ps(v) ::ts::kernels::internal::emulated::CvtEpi32Ps(v)
#define _mm512_cvttps_epi32(v) ::ts::kernels::internal::emulated::CvttPsEpi32(v)
#define _mm512_cvtepi8_epi32(v) ::ts::kernels::internal::emulated::CvtEpi8Epi32(v)
#define _mm512_cvtph_ps(v) ::ts::kernels::internal::emulated::CvtPhPs(v)
#define _mm512_cvtepi32_epi8(v) ::ts::kernels::internal::emulated::CvtEpi32Epi8(v)
   // SIMDe implements this one but defines no native alias for it.
#define _mm512_shuffle_i64x2(a, b, imm8) simde_mm512_shuffle_i64x2(a, b, imm8)
#undef _mm512_roundscale_ps
#define _mm512_roundscale_ps(v, imm8) ::ts::kernels::internal::emulated::RoundscalePs(v, imm8)
#define _mm512_maskz_loadu_ps(m, p) ::ts::kernels::internal::emulated::MaskzLoaduPs(m, p)
#define _mm512_mask_cvtsepi32_storeu_epi8(p, m, v) \
  ::ts::kernels::internal::emulated::MaskCvtsepi32StoreuEpi8(p, m, v)
#endif
