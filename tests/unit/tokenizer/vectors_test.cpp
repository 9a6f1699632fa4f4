// Conformance with llama.cpp's tokenizer test vectors (test-tokenizer-0): every case of
// NAME.inp must encode, without BOS, to the ids on the matching line of NAME.out.
#include <gtest/gtest.h>

#include <iostream>

#include "tests/unit/tokenizer/test_util.h"

namespace ts::tokenizer::testing {
namespace {

void ExpectAllAgree(std::string_view vocab_name) {
  const std::unique_ptr<Tokenizer> tok = LoadFixtureTokenizer(vocab_name);
  const std::string base = FixturePath(vocab_name);
  const std::vector<VocabCase> cases = ReadVocabCases(base + ".inp", base + ".out");
  ASSERT_EQ(cases.size(), 46u);
  std::string first_diff;
  const size_t agree = CountAgreement(*tok, cases, &first_diff);
  std::cout << vocab_name << ": " << agree << "/" << cases.size() << " cases agree\n";
  EXPECT_EQ(agree, cases.size()) << "first difference: " << first_diff;
}

TEST(TokenizerVectors, Gpt2) {
  ExpectAllAgree("ggml-vocab-gpt-2.gguf");
}

TEST(TokenizerVectors, LlamaSpm) {
  ExpectAllAgree("ggml-vocab-llama-spm.gguf");
}

TEST(TokenizerVectors, SplitMatchesLlamaCpp) {
  EXPECT_EQ(SplitVocabTestInput("a\n__ggml_vocab_test__\n\n__ggml_vocab_test__\n\n\n"
                                "__ggml_vocab_test__\n"),
            (std::vector<std::string>{"a", "", "\n"}));
}

// Byte-level BPE loses nothing; SentencePiece adds its leading space.
TEST(TokenizerVectors, DecodeRoundTrips) {
  for (std::string_view name : {"ggml-vocab-gpt-2.gguf", "ggml-vocab-llama-spm.gguf"}) {
    const std::unique_ptr<Tokenizer> tok = LoadFixtureTokenizer(name);
    const std::string base = FixturePath(name);
    for (const VocabCase& c : ReadVocabCases(base + ".inp", base + ".out")) {
      const std::string expected =
          tok->model_name() == "llama" && !c.text.empty() ? " " + c.text : c.text;
      EXPECT_EQ(tok->Decode(c.ids), expected) << name << ": \"" << Escape(c.text) << "\"";
    }
  }
}

}  // namespace
}  // namespace ts::tokenizer::testing
