// CPU detection, ISA forcing and the dispatch table.
#include "kernels/cpu.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <stdexcept>
#include <string>

#include "kernels/internal/dispatch.h"

#if defined(TS_KERNELS_X86)
#include <cpuid.h>
#include <sys/syscall.h>
#include <unistd.h>
#endif

namespace ts::kernels {
namespace {

using internal::KernelTable;

constexpr KernelTable kScalarTable = {
    Isa::kScalar,
    internal::scalar::TernaryDots,
    internal::scalar::HeadGemmF32,
    internal::scalar::HeadGemmF16,
    internal::scalar::HeadGroupQ8,
    internal::scalar::HeadGroupQ4,
    internal::kHeadTokenTile,
    nullptr,  // ternary_tile_dots
    internal::scalar::AbsMax,
    internal::scalar::QuantizeRow,
};

#if defined(TS_KERNELS_X86)
constexpr KernelTable kAvx2Table = {
    Isa::kAvx2,
    internal::avx2::TernaryDots,
    internal::avx2::HeadGemmF32,
    internal::avx2::HeadGemmF16,
    internal::avx2::HeadGroupQ8,
    internal::avx2::HeadGroupQ4,
    4,  // head_token_tile: 16 registers hold the sums of 4 tokens
    nullptr,
    internal::avx2::AbsMax,
    internal::avx2::QuantizeRow,
};
constexpr KernelTable kAvx512Table = {
    Isa::kAvx512,
    internal::avx512::TernaryDots,
    internal::avx512::HeadGemmF32,
    internal::avx512::HeadGemmF16,
    internal::avx512::HeadGroupQ8,
    internal::avx512::HeadGroupQ4,
    internal::kHeadTokenTile,
    nullptr,
    internal::avx512::AbsMax,
    internal::avx512::QuantizeRow,
};
#if !defined(TS_EMULATE_AVX512)
constexpr KernelTable kAmxTable = {
    Isa::kAmx,
    internal::avx512::TernaryDotsPrefetched,
    internal::avx512::HeadGemmF32,
    internal::avx512::HeadGemmF16Prefetched,
    internal::avx512::HeadGroupQ8Prefetched,
    internal::avx512::HeadGroupQ4,
    internal::kHeadTokenTile,
    internal::amx::TernaryTileDots,
    internal::avx512::AbsMax,
    internal::avx512::QuantizeRow,
};
#endif
#endif

#if defined(TS_KERNELS_X86) && !defined(TS_EMULATE_AVX512)
// Returns true if the CPU has AMX-TILE and AMX-INT8 and Linux lets this process use the tile
// data (arch_prctl ARCH_REQ_XCOMP_PERM: tiles are off until a process asks, since they add 8 KB
// to every context switch's saved state). The permission holds for every thread of the process.
bool AmxUsable() {
  unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
  if (__get_cpuid_count(7, 0, &eax, &ebx, &ecx, &edx) == 0) return false;
  const bool amx_tile = (edx >> 24) & 1, amx_int8 = (edx >> 25) & 1;
  if (!amx_tile || !amx_int8) return false;
  constexpr long kArchReqXcompPerm = 0x1023;
  constexpr long kXfeatureXtiledata = 18;
  return syscall(SYS_arch_prctl, kArchReqXcompPerm, kXfeatureXtiledata) == 0;
}
#endif

Isa DetectUncached() {
#if defined(TS_KERNELS_X86)
  __builtin_cpu_init();
  // libgcc also checks that the OS saves the YMM/ZMM state (XGETBV) before reporting these.
  const bool avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
                    __builtin_cpu_supports("f16c");
  const bool avx512 = avx2 && __builtin_cpu_supports("avx512f") &&
                      __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl") &&
                      __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vnni");
#if defined(TS_EMULATE_AVX512)
  // Test-only library: its AVX-512 kernels run on portable intrinsics (x86/avx512_intrinsics.h).
  if (avx2) return Isa::kAvx512;
#endif
#if !defined(TS_EMULATE_AVX512)
  if (avx512 && AmxUsable()) return Isa::kAmx;
#endif
  if (avx512) return Isa::kAvx512;
  if (avx2) return Isa::kAvx2;
#endif
  return Isa::kScalar;
}

}  // namespace

bool HasAvx512Vbmi() {
#if defined(TS_EMULATE_AVX512)
  return DetectBestIsa() >= Isa::kAvx512;
#elif defined(TS_KERNELS_X86)
  return DetectBestIsa() >= Isa::kAvx512 && __builtin_cpu_supports("avx512vbmi");
#else
  return false;
#endif
}

namespace {

const KernelTable* TableFor(Isa isa) {
  switch (isa) {
#if defined(TS_KERNELS_X86)
#if !defined(TS_EMULATE_AVX512)
    case Isa::kAmx:
      return &kAmxTable;
#endif
    case Isa::kAvx512:
      return &kAvx512Table;
    case Isa::kAvx2:
      return &kAvx2Table;
#endif
    default:
      return &kScalarTable;
  }
}

bool ParseIsa(const std::string& name, Isa* isa) {
  if (name == "scalar") *isa = Isa::kScalar;
  else if (name == "avx2") *isa = Isa::kAvx2;
  else if (name == "avx512") *isa = Isa::kAvx512;
  else if (name == "amx") *isa = Isa::kAmx;
  else return false;
  return true;
}

// The initial choice: best ISA, lowered by TERNSERVE_ISA if set. Logged once.
const KernelTable* InitialTable() {
  const Isa best = DetectBestIsa();
  Isa chosen = best;
  if (const char* env = std::getenv("TERNSERVE_ISA"); env != nullptr && env[0] != '\0') {
    Isa requested;
    if (!ParseIsa(env, &requested)) {
      spdlog::warn("kernels: TERNSERVE_ISA='{}' not one of scalar|avx2|avx512|amx; ignored", env);
    } else if (requested > best) {
      spdlog::warn("kernels: TERNSERVE_ISA={} not supported by this CPU; using {}", env,
                   IsaName(best));
    } else {
      chosen = requested;
    }
  }
  spdlog::info("kernels: using ISA {} (CPU supports {})", IsaName(chosen), IsaName(best));
  return TableFor(chosen);
}

std::atomic<const KernelTable*>& ActivePointer() {
  static std::atomic<const KernelTable*> active{InitialTable()};
  return active;
}

}  // namespace

const char* IsaName(Isa isa) {
  switch (isa) {
    case Isa::kScalar:
      return "scalar";
    case Isa::kAvx2:
      return "avx2";
    case Isa::kAvx512:
      return "avx512";
    case Isa::kAmx:
      return "amx";
  }
  return "unknown";
}

Isa DetectBestIsa() {
  static const Isa best = DetectUncached();
  return best;
}

Isa ActiveIsa() { return ActivePointer().load(std::memory_order_acquire)->isa; }

void ForceIsa(Isa isa) {
  if (isa > DetectBestIsa()) {
    throw std::invalid_argument(std::string("ForceIsa: ") + IsaName(isa) +
                                " is not supported by this CPU (best: " +
                                IsaName(DetectBestIsa()) + ")");
  }
  ActivePointer().store(TableFor(isa), std::memory_order_release);
  spdlog::debug("kernels: ISA forced to {}", IsaName(isa));
}

namespace internal {
const KernelTable& ActiveTable() { return *ActivePointer().load(std::memory_order_acquire); }
}  // namespace internal

double MeasureCoreHz() {
  constexpr uint64_t kIterations = 20'000'000;
  double best_hz = 0.0;
  for (int pass = 0; pass < 3; ++pass) {
    uint64_t x = 3, n = kIterations;
    const auto start = std::chrono::steady_clock::now();
#if defined(__x86_64__)
    // 8 dependent imuls per iteration: 24 cycles of latency hide the loop overhead.
    asm volatile(
        "1:\n\t"
        "imul %0, %0\n\timul %0, %0\n\timul %0, %0\n\timul %0, %0\n\t"
        "imul %0, %0\n\timul %0, %0\n\timul %0, %0\n\timul %0, %0\n\t"
        "dec %1\n\tjnz 1b\n\t"
        : "+r"(x), "+r"(n));
    const double cycles = static_cast<double>(kIterations) * 8 * 3;
#else
    const double cycles = 0;
#endif
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (cycles > 0) best_hz = std::max(best_hz, cycles / seconds);
  }
  return best_hz;
}

}  // namespace ts::kernels
