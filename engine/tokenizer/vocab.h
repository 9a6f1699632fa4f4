// The vocabulary as read from GGUF `tokenizer.ggml.*` keys: token strings, types, scores,
// special ids, and the lookup tables the encoders share. Internal to engine/tokenizer.
#pragma once

#include <array>
#include <bit>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "engine/gguf/gguf.h"
#include "engine/tokenizer/tokenizer.h"

namespace ts::tokenizer {

struct StringHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};
using StringToId = std::unordered_map<std::string, int32_t, StringHash, std::equal_to<>>;

enum class ModelKind { kBpe, kSpm };

// text -> id for the strings of one vocabulary: open addressing over (hash tag, id) slots,
// confirmed against the token strings. Every merge step does such lookups, and a compact
// table costs far fewer cache misses than std::unordered_map's nodes.
class TokenIndex {
 public:
  // Indexes tokens[id] for each id in `ids`; for duplicate text the later id wins.
  void Build(const std::vector<std::string>& tokens, const std::vector<int32_t>& ids);
  // Returns the id whose text is `text`, or -1.
  int32_t Find(std::string_view text, const std::vector<std::string>& tokens) const {
    if (slots_.empty()) return -1;
    const uint64_t hash = Hash(text);
    const auto tag = static_cast<uint32_t>(hash >> 32);
    for (size_t i = hash & mask_;; i = (i + 1) & mask_) {
      const Slot& slot = slots_[i];
      if (slot.id < 0) return -1;
      if (slot.tag == tag && tokens[slot.id] == text) return slot.id;
    }
  }
  size_t size() const { return size_; }

 private:
  struct Slot {
    uint32_t tag;
    int32_t id;  // -1: empty
  };
  static uint64_t Hash(std::string_view text) {
    uint64_t h = 0xcbf29ce484222325ULL;  // FNV-1a: tokens are short
    for (char c : text) h = (h ^ static_cast<uint8_t>(c)) * 0x100000001b3ULL;
    h ^= h >> 33;  // murmur3 finaliser, so the low bits used for the slot are mixed
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    return h;
  }
  std::vector<Slot> slots_;
  size_t mask_ = 0;
  size_t size_ = 0;
};

struct Vocab {
  ModelKind kind = ModelKind::kBpe;
  std::string model_name;    // tokenizer.ggml.model
  std::string pre_name;      // resolved pre-tokenizer (BPE only)
  std::string architecture;  // general.architecture

  std::vector<std::string> tokens;  // as stored
  std::vector<float> scores;        // SPM merge priority; 0 when absent
  std::vector<TokenType> types;
  std::vector<std::string> pieces;  // decoded bytes, what TokenToPiece returns

  int32_t bos_id = -1;
  int32_t eos_id = -1;
  int32_t eot_id = -1;
  int32_t pad_id = -1;
  int32_t unk_id = -1;
  bool add_bos = false;
  bool add_space_prefix = false;  // SPM: prepend " " to the text (and after specials)

  // Tokens the encoders may produce from text: everything but special and byte tokens,
  // so that text never turns into a control token through a merge.
  TokenIndex text_index;
  // CONTROL / USER_DEFINED / UNKNOWN tokens with non-empty text.
  StringToId special_to_id;
  // Special ids by their first byte, longest text first: for parse_special scanning.
  std::array<std::vector<int32_t>, 256> specials_by_first_byte;
  std::vector<uint8_t> is_eog;  // per id
  // SPM byte fallback: the id of "<0xXX>" for each byte, -1 if absent.
  std::array<int32_t, 256> byte_fallback_id{};

  int32_t n_vocab() const { return static_cast<int32_t>(tokens.size()); }
  // The id of an ordinary token with this text, or -1 (see text_index).
  int32_t TextToId(std::string_view text) const { return text_index.Find(text, tokens); }
  bool IsEncodable(int32_t id) const { return !IsSpecialType(id) && types[id] != TokenType::kByte; }
  bool IsSpecialType(int32_t id) const {
    const TokenType t = types[id];
    return t == TokenType::kControl || t == TokenType::kUserDefined || t == TokenType::kUnknown;
  }
};

// Reads everything but the merges (the BPE encoder reads those itself). Throws
// std::runtime_error naming the key on a missing or inconsistent vocabulary.
Vocab LoadVocab(const ts::gguf::GgufFile& file);

}  // namespace ts::tokenizer
