// Internal: a small runtime count (tokens of a GEMM tile, queries of an attention pass) turned
// into a compile-time one, so a kernel is compiled once per count with its loops unrolled.
#pragma once

#include <type_traits>

namespace ts::kernels::internal {

// Calls fn(std::integral_constant<int, n>{}) when kMin <= n <= kMax (kMax <= 8); nothing
// otherwise. Only the counts in [kMin, kMax] instantiate fn.
template <int kMin, int kMax, class Fn>
void WithCount(int n, Fn&& fn) {
  static_assert(1 <= kMin && kMin <= kMax && kMax <= 8, "one case per count up to 8");
  auto call = [&](auto count) {
    if constexpr (decltype(count)::value >= kMin && decltype(count)::value <= kMax) fn(count);
  };
  using std::integral_constant;
  switch (n) {
    case 1:
      return call(integral_constant<int, 1>{});
    case 2:
      return call(integral_constant<int, 2>{});
    case 3:
      return call(integral_constant<int, 3>{});
    case 4:
      return call(integral_constant<int, 4>{});
    case 5:
      return call(integral_constant<int, 5>{});
    case 6:
      return call(integral_constant<int, 6>{});
    case 7:
      return call(integral_constant<int, 7>{});
    case 8:
      return call(integral_constant<int, 8>{});
    default:
      return;
  }
}

}  // namespace ts::kernels::internal
