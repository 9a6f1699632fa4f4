// SentencePiece-style BPE (llama `tokenizer.ggml.model`): spaces become "▁" (with one
// prepended at the start of the text and after each special token), the text starts as
// one symbol per character, and the adjacent pair whose concatenation is the vocabulary
// piece with the highest score merges first (leftmost on ties). Characters left without a
// piece fall back to <0xXX> byte tokens. O(n log n) via a heap over a linked list; when
// the vocabulary allows (see CanSplitAtWordStarts) word by word, with a word cache.
#include <algorithm>

#include "engine/tokenizer/encoder.h"
#include "engine/tokenizer/unicode.h"
#include "engine/tokenizer/word_cache.h"

namespace ts::tokenizer {
namespace {

constexpr std::string_view kSpmSpace = "\xE2\x96\x81";  // "▁" U+2581

struct Symbol {
  uint32_t start;   // byte offset in the escaped text
  uint32_t length;  // 0 once merged into the left neighbour
  int32_t prev;
  int32_t next;
};

struct Candidate {
  float score;
  int32_t left;
  int32_t right;
  uint32_t length;  // left + right length when queued; a mismatch means stale
};

// Heap order: the highest score on top, then the leftmost.
struct CandidateAfter {
  bool operator()(const Candidate& a, const Candidate& b) const {
    return a.score != b.score ? a.score < b.score : a.left > b.left;
  }
};

// True when no piece holds "▁" right after another character: then no piece can span
// the boundary before a "▁" that follows a non-"▁" character, and the text can be
// encoded word by word with the same result (merges never interact across the boundary).
// Holds for Llama 2's vocabulary, whose only inner "▁"s are in runs like "▁▁▁▁".
bool CanSplitAtWordStarts(const Vocab& vocab) {
  for (int32_t id = 0; id < vocab.n_vocab(); ++id) {
    if (!vocab.IsEncodable(id)) continue;
    const std::string& text = vocab.tokens[id];
    for (size_t pos = text.find(kSpmSpace, 1); pos != std::string::npos;
         pos = text.find(kSpmSpace, pos + 1)) {
      if (pos < kSpmSpace.size() ||
          text.compare(pos - kSpmSpace.size(), kSpmSpace.size(), kSpmSpace) != 0) {
        return false;
      }
    }
  }
  return true;
}

class SpmEncoder final : public WordEncoder {
 public:
  explicit SpmEncoder(const Vocab& vocab)
      : vocab_(vocab), split_at_word_starts_(CanSplitAtWordStarts(vocab)) {}

  void EncodeFragment(std::string_view text, bool after_special,
                      std::vector<int32_t>* out) const override {
    thread_local std::string escaped;
    escaped.clear();
    if (vocab_.add_space_prefix && after_special) escaped += kSpmSpace;
    for (char c : text) {
      if (c == ' ') {
        escaped += kSpmSpace;
      } else {
        escaped += c;
      }
    }
    const std::string_view all = escaped;
    if (!split_at_word_starts_) {
      EncodeWord(all, out);
      ReleaseIfLarge(escaped);
      return;
    }
    size_t word_start = 0;
    for (size_t pos = all.find(kSpmSpace, 1); pos != std::string_view::npos;
         pos = all.find(kSpmSpace, pos + 1)) {
      if (all.substr(pos - std::min(pos, kSpmSpace.size()), kSpmSpace.size()) == kSpmSpace)
        continue;
      if (pos > word_start) EncodeWord(all.substr(word_start, pos - word_start), out);
      word_start = pos;
    }
    EncodeWord(all.substr(word_start), out);
    ReleaseIfLarge(escaped);
  }

 private:
  void EncodeWord(std::string_view word, std::vector<int32_t>* out) const {
    if (cache_.Lookup(word, out)) return;
    const size_t first_out = out->size();
    // 32-bit offsets keep symbols small; longer words are cut (between characters) into
    // pieces that each fit, which only matters for gigabytes without a space.
    constexpr size_t kMaxChunkBytes = size_t{1} << 30;
    std::string_view rest = word;
    while (!rest.empty()) {
      size_t cut = std::min(rest.size(), kMaxChunkBytes);
      while (cut < rest.size() && cut > 0 && (static_cast<uint8_t>(rest[cut]) & 0xC0) == 0x80)
        --cut;
      if (cut == 0) cut = std::min(rest.size(), kMaxChunkBytes);
      EncodeEscaped(rest.substr(0, cut), out);
      rest.remove_prefix(cut);
    }
    cache_.Insert(word, std::span(out->data() + first_out, out->size() - first_out));
  }

  void EncodeEscaped(std::string_view text, std::vector<int32_t>* out) const {
    thread_local std::vector<Symbol> symbols;
    thread_local std::vector<Candidate> heap;
    symbols.clear();
    heap.clear();
    for (size_t pos = 0; pos < text.size();) {
      const Utf8Scan scan = ScanUtf8(text, pos);
      const size_t length = scan.status == Utf8Status::kValid ? scan.length : 1;
      const auto index = static_cast<int32_t>(symbols.size());
      symbols.push_back(
          {static_cast<uint32_t>(pos), static_cast<uint32_t>(length), index - 1, index + 1});
      pos += length;
    }
    if (symbols.empty()) return;
    symbols.back().next = -1;

    const auto try_add = [&](int32_t left, int32_t right) {
      if (left < 0 || right < 0) return;
      const uint32_t length = symbols[left].length + symbols[right].length;
      const int32_t id = vocab_.TextToId(text.substr(symbols[left].start, length));
      if (id < 0) return;
      heap.push_back({vocab_.scores[id], left, right, length});
      std::push_heap(heap.begin(), heap.end(), CandidateAfter{});
    };
    for (int32_t i = 0; i + 1 < static_cast<int32_t>(symbols.size()); ++i) try_add(i, i + 1);

    while (!heap.empty()) {
      std::pop_heap(heap.begin(), heap.end(), CandidateAfter{});
      const Candidate c = heap.back();
      heap.pop_back();
      Symbol& left = symbols[c.left];
      Symbol& right = symbols[c.right];
      if (left.length == 0 || right.length == 0 || left.length + right.length != c.length) {
        continue;
      }
      left.length += right.length;
      right.length = 0;
      left.next = right.next;
      if (right.next >= 0) symbols[right.next].prev = c.left;
      try_add(left.prev, c.left);
      try_add(c.left, left.next);
    }

    for (int32_t i = 0; i >= 0; i = symbols[i].next) {
      const std::string_view piece = text.substr(symbols[i].start, symbols[i].length);
      const int32_t id = vocab_.TextToId(piece);
      if (id >= 0) {
        out->push_back(id);
        continue;
      }
      for (char c : piece) {
        const int32_t byte_id = vocab_.byte_fallback_id[static_cast<uint8_t>(c)];
        if (byte_id >= 0) {
          out->push_back(byte_id);
        } else if (vocab_.unk_id >= 0) {
          out->push_back(vocab_.unk_id);
        }
      }
    }
    ReleaseIfLarge(symbols);
    ReleaseIfLarge(heap);
  }

  const Vocab& vocab_;
  bool split_at_word_starts_;
  WordCache cache_;
};

}  // namespace

std::unique_ptr<WordEncoder> MakeSpmEncoder(const Vocab& vocab) {
  return std::make_unique<SpmEncoder>(vocab);
}

}  // namespace ts::tokenizer
