// The model-specific half of encoding: turns one fragment of ordinary text (no special
// tokens in it) into ids. Internal to engine/tokenizer; Tokenizer owns one.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "engine/tokenizer/vocab.h"

namespace ts::tokenizer {

struct PreTokenizerSpec;

class WordEncoder {
 public:
  virtual ~WordEncoder() = default;
  // Appends the ids of `text` (non-empty) to `out`. `after_special`: the fragment starts
  // the text or follows a special token (SentencePiece then prepends its space).
  virtual void EncodeFragment(std::string_view text, bool after_special,
                              std::vector<int32_t>* out) const = 0;
};

// Scratch buffers are thread_local so that words cost no allocation; one huge input must
// not pin its memory to the thread for good, so big buffers are given back after use.
template <typename Buffer>
void ReleaseIfLarge(Buffer& buffer) {
  constexpr size_t kKeepBytes = size_t{1} << 20;
  if (buffer.capacity() * sizeof(buffer[0]) > kKeepBytes) Buffer().swap(buffer);
}

// Byte-level BPE; `merges` are "left right" strings in rank order. Keeps a reference to
// `vocab`, which must outlive the encoder. Throws std::runtime_error on a malformed merge.
std::unique_ptr<WordEncoder> MakeBpeEncoder(const Vocab& vocab,
                                            const std::vector<std::string>& merges,
                                            const PreTokenizerSpec& pre);
// SentencePiece BPE on scores with byte fallback. Keeps a reference to `vocab`.
std::unique_ptr<WordEncoder> MakeSpmEncoder(const Vocab& vocab);

}  // namespace ts::tokenizer
