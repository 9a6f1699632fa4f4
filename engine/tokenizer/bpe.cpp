// Byte-level BPE (GPT-2 style): words from the pre-tokenizer, each byte mapped to its
// byte token, then the adjacent pair with the lowest merge rank merged first (leftmost
// on ties), until no ranked pair is left. A min-heap over a linked list of symbols makes
// a word of n bytes cost O(n log n).
#include <spdlog/spdlog.h>

#include <algorithm>
#include <bit>
#include <stdexcept>

#include "engine/tokenizer/encoder.h"
#include "engine/tokenizer/pretokenize.h"
#include "engine/tokenizer/unicode.h"
#include "engine/tokenizer/word_cache.h"

namespace ts::tokenizer {
namespace {

struct Merge {
  int32_t rank;
  int32_t merged_id;
};

// (left id, right id) -> merge, open addressing with linear probing: merge lookups are
// most of BPE's time, and std::unordered_map costs a pointer chase per lookup.
class PairMap {
 public:
  void Reserve(size_t n) {
    const size_t capacity = std::bit_ceil(std::max<size_t>(16, n + n / 2));  // load <= 2/3
    slots_.assign(capacity, Slot{kEmpty, {}});
    mask_ = capacity - 1;
  }
  // Keeps the first value inserted for a key.
  void Insert(uint64_t key, Merge merge) {
    for (size_t i = Hash(key) & mask_;; i = (i + 1) & mask_) {
      if (slots_[i].key == key) return;
      if (slots_[i].key == kEmpty) {
        slots_[i] = {key, merge};
        return;
      }
    }
  }
  const Merge* Find(uint64_t key) const {
    for (size_t i = Hash(key) & mask_;; i = (i + 1) & mask_) {
      if (slots_[i].key == key) return &slots_[i].merge;
      if (slots_[i].key == kEmpty) return nullptr;
    }
  }

 private:
  static constexpr uint64_t kEmpty = ~uint64_t{0};  // ids are >= 0, so never a real pair
  struct Slot {
    uint64_t key;
    Merge merge;
  };
  static size_t Hash(uint64_t key) {  // murmur3 finaliser
    key ^= key >> 33;
    key *= 0xff51afd7ed558ccdULL;
    key ^= key >> 33;
    return static_cast<size_t>(key);
  }
  std::vector<Slot> slots_;
  size_t mask_ = 0;
};

constexpr int32_t kDeadSymbol = -2;

struct Symbol {
  int32_t id;  // -1: a byte without a token (never merged)
  int32_t prev;
  int32_t next;
};

struct Candidate {
  int32_t rank;
  int32_t left;  // symbol index; also the position order for ties
  int32_t left_id;
  int32_t right_id;
  int32_t merged_id;
};

// Heap order: the lowest rank on top, then the leftmost.
struct CandidateAfter {
  bool operator()(const Candidate& a, const Candidate& b) const {
    return a.rank != b.rank ? a.rank > b.rank : a.left > b.left;
  }
};

uint64_t PairKey(int32_t left, int32_t right) {
  return (static_cast<uint64_t>(static_cast<uint32_t>(left)) << 32) | static_cast<uint32_t>(right);
}

class BpeEncoder final : public WordEncoder {
 public:
  BpeEncoder(const Vocab& vocab, const std::vector<std::string>& merges,
             const PreTokenizerSpec& pre)
      : vocab_(vocab), pre_(pre), ignore_merges_(pre.ignore_merges) {
    const auto& byte_text = ByteToUnicode();
    for (int b = 0; b < 256; ++b) {
      byte_id_[b] = vocab.TextToId(byte_text[b]);
    }
    const int missing = static_cast<int>(std::count(byte_id_.begin(), byte_id_.end(), -1));
    if (missing > 0) {
      spdlog::warn("tokenizer: {} of 256 bytes have no token; they encode as unknown", missing);
    }

    merges_.Reserve(merges.size());
    size_t unusable = 0;
    for (size_t rank = 0; rank < merges.size(); ++rank) {
      const std::string& merge = merges[rank];
      // The separator is the first space after the first character: tokens of
      // byte-level vocabularies hold no spaces, but be lenient as llama.cpp is.
      const size_t space = merge.find(' ', 1);
      if (space == std::string::npos) {
        throw std::runtime_error("tokenizer: tokenizer.ggml.merges[" + std::to_string(rank) +
                                 "] = \"" + merge + "\" is not \"left right\"");
      }
      const std::string_view left(merge.data(), space);
      const std::string_view right(merge.data() + space + 1, merge.size() - space - 1);
      const int32_t l = vocab.TextToId(left);
      const int32_t r = vocab.TextToId(right);
      std::string joined(left);
      joined += right;
      const int32_t m = vocab.TextToId(joined);
      if (l < 0 || r < 0 || m < 0) {
        ++unusable;
        continue;
      }
      merges_.Insert(PairKey(l, r), Merge{static_cast<int32_t>(rank), m});
    }
    if (unusable > 0) {
      spdlog::debug("tokenizer: {} merges name tokens outside the vocabulary", unusable);
    }
  }

  void EncodeFragment(std::string_view text, bool /*after_special*/,
                      std::vector<int32_t>* out) const override {
    thread_local std::vector<std::string_view> words;
    words.clear();
    pre_.Split(text, &words);
    for (std::string_view word : words) EncodeWord(word, out);
    ReleaseIfLarge(words);
  }

 private:
  void EncodeWord(std::string_view word, std::vector<int32_t>* out) const {
    if (word.size() == 1) {
      PushByte(static_cast<uint8_t>(word[0]), out);
      return;
    }
    if (cache_.Lookup(word, out)) return;
    const size_t first_out = out->size();
    EncodeUncached(word, out);
    cache_.Insert(word, std::span(out->data() + first_out, out->size() - first_out));
  }

  void EncodeUncached(std::string_view word, std::vector<int32_t>* out) const {
    if (ignore_merges_) {
      // Llama 3: a word that is itself a token is taken whole, even where the merges
      // would have split it differently.
      thread_local std::string mapped;
      mapped.clear();
      const auto& byte_text = ByteToUnicode();
      for (char c : word) mapped += byte_text[static_cast<uint8_t>(c)];
      const int32_t id = vocab_.TextToId(mapped);
      const bool whole = id >= 0;
      if (whole) out->push_back(id);
      ReleaseIfLarge(mapped);
      if (whole) return;
    }

    thread_local std::vector<Symbol> symbols;
    thread_local std::vector<Candidate> heap;
    symbols.clear();
    heap.clear();
    const auto n = static_cast<int32_t>(word.size());
    for (int32_t i = 0; i < n; ++i) {
      symbols.push_back({byte_id_[static_cast<uint8_t>(word[i])], i - 1, i + 1 < n ? i + 1 : -1});
    }
    const auto try_add = [&](int32_t left) {
      if (left < 0) return;
      const Symbol& l = symbols[left];
      if (l.next < 0 || l.id < 0 || symbols[l.next].id < 0) return;
      const Merge* merge = merges_.Find(PairKey(l.id, symbols[l.next].id));
      if (merge == nullptr) return;
      heap.push_back({merge->rank, left, l.id, symbols[l.next].id, merge->merged_id});
      std::push_heap(heap.begin(), heap.end(), CandidateAfter{});
    };
    for (int32_t i = 0; i + 1 < n; ++i) try_add(i);

    while (!heap.empty()) {
      std::pop_heap(heap.begin(), heap.end(), CandidateAfter{});
      const Candidate c = heap.back();
      heap.pop_back();
      Symbol& left = symbols[c.left];
      // Stale if either side has merged since: a symbol's id changes whenever it grows,
      // and an unchanged left symbol followed by the same id is the same pair.
      if (left.id != c.left_id || left.next < 0) continue;
      Symbol& right = symbols[left.next];
      if (right.id != c.right_id) continue;
      left.id = c.merged_id;
      left.next = right.next;
      if (right.next >= 0) symbols[right.next].prev = c.left;
      right.id = kDeadSymbol;
      try_add(left.prev);
      try_add(c.left);
    }
    for (int32_t i = 0; i >= 0; i = symbols[i].next) {
      if (symbols[i].id >= 0) {
        out->push_back(symbols[i].id);
      } else if (vocab_.unk_id >= 0) {
        out->push_back(vocab_.unk_id);
      }
    }
    ReleaseIfLarge(symbols);
    ReleaseIfLarge(heap);
  }

  void PushByte(uint8_t byte, std::vector<int32_t>* out) const {
    if (byte_id_[byte] >= 0) {
      out->push_back(byte_id_[byte]);
    } else if (vocab_.unk_id >= 0) {
      out->push_back(vocab_.unk_id);
    }
  }

  const Vocab& vocab_;
  PreTokenizer pre_;
  bool ignore_merges_;
  std::array<int32_t, 256> byte_id_{};
  PairMap merges_;
  WordCache cache_;
};

}  // namespace

std::unique_ptr<WordEncoder> MakeBpeEncoder(const Vocab& vocab,
                                            const std::vector<std::string>& merges,
                                            const PreTokenizerSpec& pre) {
  return std::make_unique<BpeEncoder>(vocab, merges, pre);
}

}  // namespace ts::tokenizer
