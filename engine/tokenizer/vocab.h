// The vocabulary as read from GGUF `tokenizer.ggml.*` keys: token strings, types, scores,
// special ids, and the lookup tables the encoders share. Internal to engine/tokenizer.
#pragma once

#include <array>
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
  StringToId text_to_id;
  // CONTROL / USER_DEFINED / UNKNOWN tokens with non-empty text.
  StringToId special_to_id;
  // Special ids by their first byte, longest text first: for parse_special scanning.
  std::array<std::vector<int32_t>, 256> specials_by_first_byte;
  std::vector<uint8_t> is_eog;  // per id
  // SPM byte fallback: the id of "<0xXX>" for each byte, -1 if absent.
  std::array<int32_t, 256> byte_fallback_id{};

  int32_t n_vocab() const { return static_cast<int32_t>(tokens.size()); }
  bool IsSpecialType(int32_t id) const {
    const TokenType t = types[id];
    return t == TokenType::kControl || t == TokenType::kUserDefined || t == TokenType::kUnknown;
  }
};

// Reads everything but the merges (the BPE encoder reads those itself). Throws
// std::runtime_error naming the key on a missing or inconsistent vocabulary.
Vocab LoadVocab(const ts::gguf::GgufFile& file);

}  // namespace ts::tokenizer
