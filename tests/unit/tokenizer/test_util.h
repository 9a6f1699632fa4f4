// Helpers shared by the tokenizer tests: llama.cpp's vocab test-vector format and
// fixture loading.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "engine/tokenizer/tokenizer.h"

namespace ts::tokenizer::testing {

struct VocabCase {
  std::string text;
  std::vector<int32_t> ids;
};

std::string ReadFileOrDie(const std::string& path);
// llama.cpp's test-tokenizer-0 split: the text between "\n__ggml_vocab_test__\n"
// separators (so the newline before each separator is not part of the case).
std::vector<std::string> SplitVocabTestInput(const std::string& raw);
// Pairs the cases of NAME.inp with the lines of NAME.out (space-separated ids).
std::vector<VocabCase> ReadVocabCases(const std::string& inp_path, const std::string& out_path);

std::string FixturePath(std::string_view name);  // ../shared/fixtures/tokenizer/NAME
std::unique_ptr<Tokenizer> LoadFixtureTokenizer(std::string_view name);

std::string FormatIds(const std::vector<int32_t>& ids);
std::string Escape(std::string_view text);  // C-style escapes for failure messages

// Encodes every case (no BOS, no special parsing); returns the number that agree and
// describes the first disagreement in `first_diff` (empty when all agree).
size_t CountAgreement(const Tokenizer& tok, const std::vector<VocabCase>& cases,
                      std::string* first_diff);

}  // namespace ts::tokenizer::testing
