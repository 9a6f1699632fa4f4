// Tokenizer: builds the vocabulary and the model's encoder from GGUF, splits text at
// special tokens when asked, and maps ids back to bytes.
#include "engine/tokenizer/tokenizer.h"

#include <spdlog/spdlog.h>

#include <stdexcept>

#include "engine/tokenizer/encoder.h"
#include "engine/tokenizer/pretokenize.h"
#include "engine/tokenizer/unicode.h"
#include "engine/tokenizer/vocab.h"

namespace ts::tokenizer {

Tokenizer::Tokenizer() = default;
Tokenizer::~Tokenizer() = default;

std::unique_ptr<Tokenizer> Tokenizer::FromGguf(const ts::gguf::GgufFile& file) {
  std::unique_ptr<Tokenizer> tok(new Tokenizer());
  tok->vocab_ = std::make_unique<Vocab>(LoadVocab(file));
  Vocab& vocab = *tok->vocab_;
  if (vocab.kind == ModelKind::kSpm) {
    tok->encoder_ = MakeSpmEncoder(vocab);
  } else {
    const PreTokenizerSpec* pre = FindPreTokenizerSpec(vocab.pre_name);
    if (pre == nullptr) {
      spdlog::warn("tokenizer: unknown pre-tokenizer \"{}\"; using the default (GPT-2) regex",
                   vocab.pre_name);
      pre = &DefaultPreTokenizerSpec();
      vocab.pre_name = std::string(pre->name);
    }
    const std::vector<std::string> merges = file.GetStringArray("tokenizer.ggml.merges");
    if (merges.empty()) {
      throw std::runtime_error("tokenizer: gpt2 vocabulary without tokenizer.ggml.merges");
    }
    tok->encoder_ = MakeBpeEncoder(vocab, merges, *pre);
  }
  spdlog::debug("tokenizer: {} ({}), {} tokens, bos {}, eos {}, add_bos {}", vocab.model_name,
                vocab.pre_name, vocab.n_vocab(), vocab.bos_id, vocab.eos_id, vocab.add_bos);
  return tok;
}

std::vector<int32_t> Tokenizer::Encode(std::string_view text, bool add_bos,
                                       bool parse_special) const {
  std::vector<int32_t> ids;
  ids.reserve(text.size() / 3 + 2);
  if (add_bos && vocab_->bos_id >= 0) ids.push_back(vocab_->bos_id);
  if (!parse_special || vocab_->special_to_id.empty()) {
    if (!text.empty()) encoder_->EncodeFragment(text, true, &ids);
    return ids;
  }

  // Leftmost match wins; at one position the longest special text (buckets are sorted).
  size_t fragment_start = 0;
  bool after_special = true;
  size_t pos = 0;
  while (pos < text.size()) {
    const auto& candidates = vocab_->specials_by_first_byte[static_cast<uint8_t>(text[pos])];
    int32_t found = -1;
    for (int32_t id : candidates) {
      const std::string& special = vocab_->tokens[id];
      if (text.substr(pos, special.size()) == special) {
        found = id;
        break;
      }
    }
    if (found < 0) {
      ++pos;
      continue;
    }
    if (pos > fragment_start) {
      encoder_->EncodeFragment(text.substr(fragment_start, pos - fragment_start), after_special,
                               &ids);
    }
    ids.push_back(found);
    after_special = true;
    pos += vocab_->tokens[found].size();
    fragment_start = pos;
  }
  if (fragment_start < text.size()) {
    encoder_->EncodeFragment(text.substr(fragment_start), after_special, &ids);
  }
  return ids;
}

void Tokenizer::CheckId(int32_t id) const {
  if (id < 0 || id >= vocab_->n_vocab()) {
    throw std::out_of_range("tokenizer: token id " + std::to_string(id) +
                            " is outside the vocabulary [0, " + std::to_string(vocab_->n_vocab()) +
                            ")");
  }
}

std::string Tokenizer::TokenToPiece(int32_t id) const {
  CheckId(id);
  return vocab_->pieces[id];
}

std::string Tokenizer::DecodeBytes(std::span<const int32_t> ids) const {
  std::string out;
  for (int32_t id : ids) {
    CheckId(id);
    out += vocab_->pieces[id];
  }
  return out;
}

std::string Tokenizer::Decode(std::span<const int32_t> ids) const {
  const std::string bytes = DecodeBytes(ids);
  std::string out;
  out.reserve(bytes.size());
  AppendSanitizedUtf8(bytes, /*final=*/true, &out);
  return out;
}

int32_t Tokenizer::n_vocab() const {
  return vocab_->n_vocab();
}
int32_t Tokenizer::bos_id() const {
  return vocab_->bos_id;
}
int32_t Tokenizer::eos_id() const {
  return vocab_->eos_id;
}
int32_t Tokenizer::eot_id() const {
  return vocab_->eot_id;
}
int32_t Tokenizer::pad_id() const {
  return vocab_->pad_id;
}
bool Tokenizer::add_bos_default() const {
  return vocab_->add_bos;
}

bool Tokenizer::IsEndOfGeneration(int32_t id) const {
  return id >= 0 && id < vocab_->n_vocab() && vocab_->is_eog[id] != 0;
}

bool Tokenizer::IsSpecial(int32_t id) const {
  return id >= 0 && id < vocab_->n_vocab() && vocab_->IsSpecialType(id);
}

TokenType Tokenizer::Type(int32_t id) const {
  CheckId(id);
  return vocab_->types[id];
}

std::optional<int32_t> Tokenizer::FindSpecialToken(std::string_view text) const {
  const auto it = vocab_->special_to_id.find(text);
  if (it == vocab_->special_to_id.end()) return std::nullopt;
  return it->second;
}

const std::string& Tokenizer::RawToken(int32_t id) const {
  CheckId(id);
  return vocab_->tokens[id];
}

const std::string& Tokenizer::model_name() const {
  return vocab_->model_name;
}
const std::string& Tokenizer::pre_name() const {
  return vocab_->pre_name;
}

}  // namespace ts::tokenizer
