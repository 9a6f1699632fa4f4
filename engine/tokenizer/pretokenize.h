// Pre-tokenization for byte-level BPE: splits text into words with the regexes named by
// `tokenizer.ggml.pre`, using PCRE2 (UTF + UCP, JIT). Merges never cross a word boundary.
//
// `\s` in the patterns means the Unicode White_Space property (as in HF tokenizers and
// llama.cpp), rewritten to an explicit class because PCRE2's own \s differs slightly.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace ts::tokenizer {

struct PreTokenizerSpec {
  std::string_view name;
  // Applied in order: each pattern splits every piece the previous one produced into
  // its matches and the text between them.
  std::vector<std::string_view> patterns;
  // Look the whole word up in the vocabulary before merging (HF `ignore_merges`, Llama 3).
  bool ignore_merges = false;
};

// Returns the spec for a `tokenizer.ggml.pre` value, or nullptr if unknown.
const PreTokenizerSpec* FindPreTokenizerSpec(std::string_view name);
// The spec used when `pre` is "default" or unknown: GPT-2's pattern.
const PreTokenizerSpec& DefaultPreTokenizerSpec();

class PreTokenizer {
 public:
  // Compiles the patterns; throws std::runtime_error if one does not compile.
  explicit PreTokenizer(const PreTokenizerSpec& spec);
  ~PreTokenizer();
  PreTokenizer(const PreTokenizer&) = delete;
  PreTokenizer& operator=(const PreTokenizer&) = delete;

  // Appends the words of `text` to `words` (views into `text`; they concatenate to
  // `text`). Invalid UTF-8 bytes become one-byte words of their own; the regexes see
  // only the valid runs between them. Thread-safe.
  void Split(std::string_view text, std::vector<std::string_view>* words) const;

 private:
  struct Pattern;
  void SplitValid(std::string_view text, std::vector<std::string_view>* words) const;

  std::vector<std::unique_ptr<Pattern>> patterns_;
};

}  // namespace ts::tokenizer
