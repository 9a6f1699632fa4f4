// Text <-> token ids for the vocabularies GGUF files carry:
//  - `gpt2`:  byte-level BPE with ranked merges and a pre-tokenizer regex chosen by
//             `tokenizer.ggml.pre` (gpt-2, llama-bpe, qwen2, ...; see pretokenize.h);
//  - `llama`: SentencePiece-style BPE on piece scores, "▁" for spaces, <0xXX> byte fallback.
// Also the incremental detokenizer used when streaming generated tokens.
//
// Not here: chat templates, stop strings.
//
// A Tokenizer is immutable after FromGguf and safe to use from many threads at once.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "engine/gguf/gguf.h"

namespace ts::tokenizer {

// GGUF `tokenizer.ggml.token_type` values (llama.cpp's llama_token_type).
enum class TokenType : int32_t {
  kUndefined = 0,
  kNormal = 1,
  kUnknown = 2,
  kControl = 3,
  kUserDefined = 4,
  kUnused = 5,
  kByte = 6,
};

struct Vocab;
class WordEncoder;

class Tokenizer {
 public:
  // Returns a tokenizer built from the file's `tokenizer.ggml.*` keys (the file may be
  // closed afterwards: everything is copied). Throws std::runtime_error naming the key
  // when the vocabulary is missing, inconsistent or of an unsupported model.
  static std::unique_ptr<Tokenizer> FromGguf(const ts::gguf::GgufFile& file);
  virtual ~Tokenizer();
  Tokenizer(const Tokenizer&) = delete;
  Tokenizer& operator=(const Tokenizer&) = delete;

  // Returns the ids for `text`. `add_bos`: prepend BOS (ignored when the vocab has none);
  // pass add_bos_default() for the vocab's own choice. `parse_special`: recognise the text
  // of special tokens (CONTROL / USER_DEFINED / UNKNOWN types, e.g. "<|eot_id|>") as those
  // tokens; use it for chat-template text only, never for user content, where such text
  // is encoded as ordinary characters. Any bytes are accepted: invalid UTF-8 is encoded
  // byte by byte (byte tokens / <0xXX> fallback), so DecodeBytes(Encode(x)) == x for
  // byte-level BPE.
  std::vector<int32_t> Encode(std::string_view text, bool add_bos, bool parse_special) const;

  // Returns the bytes of one token: byte-level decoded (gpt2), "▁" -> " " and <0x0A> -> "\n"
  // (llama); special tokens render as their text. May be a partial UTF-8 sequence.
  // Throws std::out_of_range for an id outside [0, n_vocab()).
  std::string TokenToPiece(int32_t id) const;
  // Concatenated TokenToPiece bytes of `ids`, unchanged (may be invalid UTF-8).
  // Unlike SentencePiece, no leading space is stripped: decoding a continuation gives the
  // same text as streaming it. Throws std::out_of_range like TokenToPiece.
  std::string DecodeBytes(std::span<const int32_t> ids) const;
  // DecodeBytes made valid UTF-8: each invalid sequence becomes U+FFFD. Equals the
  // concatenated output of an IncrementalDetokenizer fed `ids` and then flushed.
  std::string Decode(std::span<const int32_t> ids) const;

  int32_t n_vocab() const;
  int32_t bos_id() const;  // -1 if none
  int32_t eos_id() const;  // -1 if none
  int32_t eot_id() const;  // -1 if none
  int32_t pad_id() const;  // -1 if none
  bool add_bos_default() const;
  // True for eos, eot, and control tokens that end a turn in known chat formats when
  // present (<|eot_id|>, <|end_of_text|>, <|eom_id|>, <|endoftext|>, <|im_end|>, <|end|>,
  // <end_of_turn>). Out-of-range ids are not end of generation.
  bool IsEndOfGeneration(int32_t id) const;
  bool IsSpecial(int32_t id) const;  // CONTROL, USER_DEFINED or UNKNOWN type
  TokenType Type(int32_t id) const;
  // Exact special-token text -> id (nullopt for ordinary tokens and unknown text).
  std::optional<int32_t> FindSpecialToken(std::string_view text) const;
  // The vocabulary string as stored (byte-level encoded for gpt2, with "▁" for llama).
  const std::string& RawToken(int32_t id) const;
  // "gpt2" or "llama", and the pre-tokenizer actually used (gpt2 only, else "").
  const std::string& model_name() const;
  const std::string& pre_name() const;

 private:
  Tokenizer();
  void CheckId(int32_t id) const;

  std::unique_ptr<Vocab> vocab_;
  std::unique_ptr<WordEncoder> encoder_;
};

// Turns a stream of token ids of one sequence into text that is always valid UTF-8:
// bytes of a character split over several tokens are held back until the character is
// complete; invalid sequences come out as U+FFFD. Not thread-safe (one per sequence).
class IncrementalDetokenizer {
 public:
  explicit IncrementalDetokenizer(const Tokenizer& tok);
  // Returns the newly completed text (possibly empty). Throws std::out_of_range for an
  // invalid id (the state is unchanged then).
  std::string Push(int32_t id);
  // Returns what is held back (an incomplete sequence becomes U+FFFD) and resets.
  std::string Flush();
  size_t pending_bytes() const { return pending_.size(); }

 private:
  const Tokenizer& tok_;
  std::string pending_;  // at most 3 bytes: a prefix of a valid UTF-8 sequence
};

}  // namespace ts::tokenizer
