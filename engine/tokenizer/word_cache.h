// A per-thread memo of word -> ids for one encoder. Natural text repeats its words, and a
// hit skips the whole merge loop. Per thread so that Encode takes no lock; each encoder
// has a serial number so a thread that switches tokenizers never sees stale entries.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

namespace ts::tokenizer {

class WordCache {
 public:
  // Words longer than this are rare and not worth memory.
  static constexpr size_t kMaxWordBytes = 64;
  // Entries per thread before the cache is emptied (~ a few MB at most).
  static constexpr size_t kMaxEntries = size_t{1} << 16;

  WordCache();
  // Appends the cached ids of `word` to `out` and returns true, or returns false.
  bool Lookup(std::string_view word, std::vector<int32_t>* out) const;
  void Insert(std::string_view word, std::span<const int32_t> ids) const;

 private:
  uint64_t serial_;
};

}  // namespace ts::tokenizer
