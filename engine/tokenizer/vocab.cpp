#include "engine/tokenizer/vocab.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <stdexcept>

#include "engine/tokenizer/unicode.h"

namespace ts::tokenizer {
namespace {

constexpr std::string_view kSpmSpace = "\xE2\x96\x81";  // "▁" U+2581

// Control tokens that end a turn in the chat formats we know; llama.cpp keeps a similar
// list because many GGUF files name only one of them as eos.
constexpr std::string_view kEndOfGenerationTexts[] = {
    "<|eot_id|>", "<|end_of_text|>", "<|eom_id|>",    "<|endoftext|>",
    "<|im_end|>", "<|end|>",         "<end_of_turn>",
};

std::string DecodeByteLevel(std::string_view token) {
  std::string out;
  out.reserve(token.size());
  size_t pos = 0;
  while (pos < token.size()) {
    const Utf8Scan scan = ScanUtf8(token, pos);
    const size_t len = scan.status == Utf8Status::kValid ? scan.length : 1;
    const int byte = scan.status == Utf8Status::kValid ? UnicodeToByte(scan.codepoint) : -1;
    if (byte >= 0) {
      out.push_back(static_cast<char>(byte));
    } else {
      out.append(token.substr(pos, len));  // not from the byte map: keep as written
    }
    pos += len;
  }
  return out;
}

std::string ReplaceSpmSpaces(std::string_view token) {
  std::string out;
  out.reserve(token.size());
  for (size_t pos = 0; pos < token.size();) {
    if (token.substr(pos, kSpmSpace.size()) == kSpmSpace) {
      out.push_back(' ');
      pos += kSpmSpace.size();
    } else {
      out.push_back(token[pos++]);
    }
  }
  return out;
}

// "<0x0A>" -> 0x0A, or -1 when the text is not of that form.
int ParseByteToken(std::string_view text) {
  if (text.size() != 6 || text.substr(0, 3) != "<0x" || text[5] != '>') return -1;
  int value = 0;
  for (size_t i = 3; i < 5; ++i) {
    const char c = text[i];
    int digit = -1;
    if (c >= '0' && c <= '9') digit = c - '0';
    if (c >= 'A' && c <= 'F') digit = c - 'A' + 10;
    if (c >= 'a' && c <= 'f') digit = c - 'a' + 10;
    if (digit < 0) return -1;
    value = value * 16 + digit;
  }
  return value;
}

int32_t ReadTokenId(const ts::gguf::GgufFile& file, std::string_view key, int32_t n_vocab) {
  const std::optional<int64_t> v = file.GetInt(key);
  if (!v) return -1;
  if (*v < 0 || *v >= n_vocab) {
    // Some converters write -1 or a sentinel for "none"; that is not worth refusing a model.
    spdlog::warn("tokenizer: {} = {} is outside the vocabulary (size {}); ignored", key, *v,
                 n_vocab);
    return -1;
  }
  return static_cast<int32_t>(*v);
}

}  // namespace

void TokenIndex::Build(const std::vector<std::string>& tokens, const std::vector<int32_t>& ids) {
  const size_t capacity = std::bit_ceil(std::max<size_t>(16, 2 * ids.size()));  // load <= 1/2
  slots_.assign(capacity, Slot{0, -1});
  mask_ = capacity - 1;
  size_ = 0;
  for (int32_t id : ids) {
    const uint64_t hash = Hash(tokens[id]);
    const auto tag = static_cast<uint32_t>(hash >> 32);
    for (size_t i = hash & mask_;; i = (i + 1) & mask_) {
      Slot& slot = slots_[i];
      if (slot.id < 0) {
        slot = {tag, id};
        ++size_;
        break;
      }
      if (slot.tag == tag && tokens[slot.id] == tokens[id]) {
        slot.id = id;  // later duplicates win, as in llama.cpp
        break;
      }
    }
  }
}

Vocab LoadVocab(const ts::gguf::GgufFile& file) {
  Vocab vocab;
  const std::optional<std::string> model = file.GetString("tokenizer.ggml.model");
  if (!model) throw std::runtime_error("tokenizer: GGUF has no tokenizer.ggml.model key");
  vocab.model_name = *model;
  if (*model == "gpt2") {
    vocab.kind = ModelKind::kBpe;
  } else if (*model == "llama") {
    vocab.kind = ModelKind::kSpm;
  } else {
    throw std::runtime_error("tokenizer: unsupported tokenizer.ggml.model \"" + *model +
                             "\" (supported: gpt2, llama)");
  }
  vocab.architecture = file.GetString("general.architecture").value_or("");

  vocab.tokens = file.GetStringArray("tokenizer.ggml.tokens");
  const size_t n = vocab.tokens.size();
  if (n == 0) throw std::runtime_error("tokenizer: tokenizer.ggml.tokens is missing or empty");
  if (n > static_cast<size_t>(INT32_MAX)) {
    throw std::runtime_error("tokenizer: tokenizer.ggml.tokens has too many entries");
  }

  vocab.scores = file.GetFloatArray("tokenizer.ggml.scores");
  if (vocab.scores.empty()) vocab.scores.assign(n, 0.0f);
  if (vocab.scores.size() != n) {
    throw std::runtime_error("tokenizer: tokenizer.ggml.scores has " +
                             std::to_string(vocab.scores.size()) + " entries for " +
                             std::to_string(n) + " tokens");
  }
  const std::vector<int64_t> types = file.GetIntArray("tokenizer.ggml.token_type");
  if (!types.empty() && types.size() != n) {
    throw std::runtime_error("tokenizer: tokenizer.ggml.token_type has " +
                             std::to_string(types.size()) + " entries for " + std::to_string(n) +
                             " tokens");
  }
  vocab.types.assign(n, TokenType::kNormal);
  for (size_t i = 0; i < types.size(); ++i) {
    if (types[i] < 0 || types[i] > static_cast<int64_t>(TokenType::kByte)) {
      throw std::runtime_error("tokenizer: tokenizer.ggml.token_type[" + std::to_string(i) +
                               "] = " + std::to_string(types[i]) + " is not a token type");
    }
    vocab.types[i] = static_cast<TokenType>(types[i]);
  }

  const auto n_vocab = static_cast<int32_t>(n);
  vocab.bos_id = ReadTokenId(file, "tokenizer.ggml.bos_token_id", n_vocab);
  vocab.eos_id = ReadTokenId(file, "tokenizer.ggml.eos_token_id", n_vocab);
  vocab.eot_id = ReadTokenId(file, "tokenizer.ggml.eot_token_id", n_vocab);
  vocab.pad_id = ReadTokenId(file, "tokenizer.ggml.padding_token_id", n_vocab);
  vocab.unk_id = ReadTokenId(file, "tokenizer.ggml.unknown_token_id", n_vocab);

  // Pre-tokenizer name; BitNet's official GGUFs carry no `pre` but use Llama 3's.
  if (vocab.kind == ModelKind::kBpe) {
    if (std::optional<std::string> pre = file.GetString("tokenizer.ggml.pre")) {
      vocab.pre_name = *pre;
    } else if (vocab.architecture == "bitnet-b1.58" || vocab.architecture == "bitnet-25") {
      vocab.pre_name = "llama-bpe";
    } else {
      vocab.pre_name = "default";
    }
  }

  // add_bos: the key when present; otherwise as llama.cpp does (SentencePiece and
  // Llama 3 add BOS, other BPE vocabularies do not).
  const bool default_add_bos =
      vocab.kind == ModelKind::kSpm || vocab.pre_name == "llama-bpe" || vocab.pre_name == "llama3";
  vocab.add_bos = file.GetBool("tokenizer.ggml.add_bos_token").value_or(default_add_bos);
  if (vocab.add_bos && vocab.bos_id < 0) {
    spdlog::warn("tokenizer: add_bos_token is set but there is no BOS token; not adding one");
    vocab.add_bos = false;
  }
  vocab.add_space_prefix = vocab.kind == ModelKind::kSpm &&
                           file.GetBool("tokenizer.ggml.add_space_prefix").value_or(true);

  // Decoded pieces and lookup tables.
  vocab.pieces.resize(n);
  vocab.is_eog.assign(n, 0);
  std::vector<int32_t> encodable;
  encodable.reserve(n);
  vocab.byte_fallback_id.fill(-1);
  for (size_t i = 0; i < n; ++i) {
    const auto id = static_cast<int32_t>(i);
    const std::string& text = vocab.tokens[i];
    const TokenType type = vocab.types[i];
    if (vocab.IsSpecialType(id)) {
      vocab.pieces[i] = vocab.kind == ModelKind::kSpm && type == TokenType::kUserDefined
                            ? ReplaceSpmSpaces(text)
                            : text;
      if (!text.empty()) {
        vocab.special_to_id[text] = id;
        vocab.specials_by_first_byte[static_cast<uint8_t>(text[0])].push_back(id);
      }
      continue;
    }
    if (type == TokenType::kByte) {
      const int byte = ParseByteToken(text);
      vocab.pieces[i] = byte >= 0 ? std::string(1, static_cast<char>(byte)) : text;
      if (byte >= 0 && vocab.byte_fallback_id[byte] < 0) vocab.byte_fallback_id[byte] = id;
      continue;
    }
    vocab.pieces[i] =
        vocab.kind == ModelKind::kBpe ? DecodeByteLevel(text) : ReplaceSpmSpaces(text);
    encodable.push_back(id);
  }
  vocab.text_index.Build(vocab.tokens, encodable);
  for (auto& bucket : vocab.specials_by_first_byte) {
    std::stable_sort(bucket.begin(), bucket.end(), [&](int32_t a, int32_t b) {
      return vocab.tokens[a].size() > vocab.tokens[b].size();
    });
  }

  for (int32_t id : {vocab.eos_id, vocab.eot_id}) {
    if (id >= 0) vocab.is_eog[id] = 1;
  }
  for (std::string_view text : kEndOfGenerationTexts) {
    auto it = vocab.special_to_id.find(text);
    if (it != vocab.special_to_id.end() && vocab.types[it->second] == TokenType::kControl) {
      vocab.is_eog[it->second] = 1;
    }
  }
  return vocab;
}

}  // namespace ts::tokenizer
