// Internal: the register blocking both x86 F32/F16 head kernels share for several tokens.
#pragma once

#include <type_traits>

namespace ts::kernels::internal {

// Calls fn(Rows, Tokens, r0, t0) over rows [row_begin, row_end) in groups of up to 4 and tokens
// [0, n_tok) in groups of up to 2; Rows and Tokens are std::integral_constant so the kernels
// unroll. Two tokens of x then stay in L1 while each weight vector meets both.
template <class Fn>
void ForEachHeadBlock(int row_begin, int row_end, int n_tok, Fn&& fn) {
  using std::integral_constant;
  for (int r0 = row_begin; r0 < row_end; r0 += 4) {
    for (int t0 = 0; t0 < n_tok; t0 += 2) {
      const int rows = row_end - r0 < 4 ? row_end - r0 : 4;
      const bool pair = n_tok - t0 >= 2;
      auto with_rows = [&](auto r) {
        pair ? fn(r, integral_constant<int, 2>{}, r0, t0)
             : fn(r, integral_constant<int, 1>{}, r0, t0);
      };
      switch (rows) {
        case 1:
          with_rows(integral_constant<int, 1>{});
          break;
        case 2:
          with_rows(integral_constant<int, 2>{});
          break;
        case 3:
          with_rows(integral_constant<int, 3>{});
          break;
        default:
          with_rows(integral_constant<int, 4>{});
          break;
      }
    }
  }
}

}  // namespace ts::kernels::internal
