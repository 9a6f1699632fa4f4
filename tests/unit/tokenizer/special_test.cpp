// Special tokens, BOS, end-of-generation ids, and robustness against hostile input,
// on the fixture vocabularies (GPT-2 byte-level BPE, Llama 2 SentencePiece).
#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <random>
#include <thread>

#include "engine/gguf/gguf.h"
#include "engine/gguf/gguf_writer.h"
#include "engine/tokenizer/unicode.h"
#include "tests/unit/tokenizer/test_util.h"

namespace ts::tokenizer::testing {
namespace {

constexpr int32_t kGpt2EndOfText = 50256;
constexpr int32_t kSpmBos = 1;
constexpr int32_t kSpmEos = 2;

class SpecialTokens : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    gpt2_ = LoadFixtureTokenizer("ggml-vocab-gpt-2.gguf").release();
    spm_ = LoadFixtureTokenizer("ggml-vocab-llama-spm.gguf").release();
  }
  static void TearDownTestSuite() {
    delete gpt2_;
    delete spm_;
  }
  static Tokenizer* gpt2_;
  static Tokenizer* spm_;
};
Tokenizer* SpecialTokens::gpt2_ = nullptr;
Tokenizer* SpecialTokens::spm_ = nullptr;

bool Contains(const std::vector<int32_t>& ids, int32_t id) {
  return std::find(ids.begin(), ids.end(), id) != ids.end();
}

TEST_F(SpecialTokens, Metadata) {
  EXPECT_EQ(gpt2_->n_vocab(), 50257);
  EXPECT_EQ(gpt2_->model_name(), "gpt2");
  EXPECT_EQ(gpt2_->pre_name(), "gpt-2");
  EXPECT_EQ(gpt2_->bos_id(), kGpt2EndOfText);
  EXPECT_EQ(gpt2_->eos_id(), kGpt2EndOfText);
  EXPECT_FALSE(gpt2_->add_bos_default());
  EXPECT_EQ(spm_->n_vocab(), 32000);
  EXPECT_EQ(spm_->bos_id(), kSpmBos);
  EXPECT_EQ(spm_->eos_id(), kSpmEos);
  EXPECT_TRUE(spm_->add_bos_default());
  EXPECT_EQ(spm_->Type(3), TokenType::kByte);
}

TEST_F(SpecialTokens, ParsedOnlyWhenAsked) {
  const std::string text = "Hello<|endoftext|> world";
  const std::vector<int32_t> parsed = gpt2_->Encode(text, false, true);
  EXPECT_EQ(parsed, (std::vector<int32_t>{15496, kGpt2EndOfText, 995}));
  const std::vector<int32_t> plain = gpt2_->Encode(text, false, false);
  EXPECT_FALSE(Contains(plain, kGpt2EndOfText));
  EXPECT_EQ(gpt2_->Decode(plain), text);
  EXPECT_EQ(gpt2_->Decode(parsed), text);  // specials render as their text

  // SentencePiece: "<s>" is BOS only in template text; a space is prefixed after it.
  EXPECT_EQ(spm_->Encode("<s>Hello", false, true), (std::vector<int32_t>{kSpmBos, 15043}));
  EXPECT_FALSE(Contains(spm_->Encode("<s>Hello</s>", false, false), kSpmBos));
  EXPECT_FALSE(Contains(spm_->Encode("<s>Hello</s>", false, false), kSpmEos));
  EXPECT_EQ(spm_->Encode("Hello</s>", false, true).back(), kSpmEos);
}

TEST_F(SpecialTokens, AdjacentAndPartialSpecials) {
  EXPECT_EQ(gpt2_->Encode("<|endoftext|><|endoftext|>", false, true),
            (std::vector<int32_t>{kGpt2EndOfText, kGpt2EndOfText}));
  EXPECT_FALSE(Contains(gpt2_->Encode("<|endoftext|", false, true), kGpt2EndOfText));
  EXPECT_FALSE(Contains(gpt2_->Encode("<|endoftext", false, true), kGpt2EndOfText));
}

TEST_F(SpecialTokens, AddBos) {
  EXPECT_EQ(spm_->Encode("Hello", true, false), (std::vector<int32_t>{kSpmBos, 15043}));
  EXPECT_EQ(spm_->Encode("Hello", false, false), (std::vector<int32_t>{15043}));
  EXPECT_EQ(spm_->Encode("", true, false), (std::vector<int32_t>{kSpmBos}));
  EXPECT_EQ(gpt2_->Encode("Hello", true, false), (std::vector<int32_t>{kGpt2EndOfText, 15496}));
}

TEST_F(SpecialTokens, LookupAndEndOfGeneration) {
  EXPECT_EQ(gpt2_->FindSpecialToken("<|endoftext|>"), kGpt2EndOfText);
  EXPECT_EQ(gpt2_->FindSpecialToken("Hello"), std::nullopt);
  EXPECT_EQ(gpt2_->FindSpecialToken(""), std::nullopt);
  EXPECT_EQ(spm_->FindSpecialToken("</s>"), kSpmEos);
  EXPECT_TRUE(gpt2_->IsSpecial(kGpt2EndOfText));
  EXPECT_FALSE(gpt2_->IsSpecial(15496));
  EXPECT_FALSE(gpt2_->IsSpecial(-1));
  EXPECT_TRUE(gpt2_->IsEndOfGeneration(kGpt2EndOfText));
  EXPECT_FALSE(gpt2_->IsEndOfGeneration(15496));
  EXPECT_TRUE(spm_->IsEndOfGeneration(kSpmEos));
  EXPECT_FALSE(spm_->IsEndOfGeneration(kSpmBos));
  EXPECT_FALSE(spm_->IsEndOfGeneration(1 << 30));
  EXPECT_EQ(gpt2_->RawToken(220), "\xC4\xA0");  // "Ġ"
  EXPECT_EQ(gpt2_->TokenToPiece(220), " ");
  EXPECT_EQ(spm_->TokenToPiece(13), "\n");  // <0x0A>
  EXPECT_EQ(spm_->TokenToPiece(15043), " Hello");
  EXPECT_EQ(spm_->TokenToPiece(kSpmBos), "<s>");
}

TEST_F(SpecialTokens, EmptyInput) {
  EXPECT_TRUE(gpt2_->Encode("", false, false).empty());
  EXPECT_TRUE(gpt2_->Encode("", false, true).empty());
  EXPECT_TRUE(spm_->Encode("", false, false).empty());
  EXPECT_EQ(gpt2_->Decode({}), "");
}

TEST_F(SpecialTokens, IdsOutOfRangeThrow) {
  for (const Tokenizer* tok : {gpt2_, spm_}) {
    EXPECT_THROW(tok->TokenToPiece(-1), std::out_of_range);
    EXPECT_THROW(tok->TokenToPiece(tok->n_vocab()), std::out_of_range);
    EXPECT_THROW(tok->RawToken(tok->n_vocab()), std::out_of_range);
    const std::vector<int32_t> ids = {1, tok->n_vocab() + 5};
    EXPECT_THROW(tok->Decode(ids), std::out_of_range);
    try {
      tok->TokenToPiece(-7);
    } catch (const std::out_of_range& e) {
      EXPECT_NE(std::string(e.what()).find("-7"), std::string::npos) << e.what();
    }
  }
}

TEST_F(SpecialTokens, InvalidUtf8IsEncodedByteByByte) {
  const std::vector<std::string> inputs = {"\xFF",
                                           "abc\xFF\xFE def",
                                           "\xC3",
                                           "caf\xC3",
                                           "\xE2\x82",
                                           "\xED\xA0\x80 surrogate",
                                           "\xC0\xAF overlong",
                                           "ok \xF4\x90\x80\x80 too big",
                                           "\x80\x80\x80",
                                           "mixed \xF0\x9F\x99\x82\xF0\x9F\x99 end"};
  for (const std::string& text : inputs) {
    for (const Tokenizer* tok : {gpt2_, spm_}) {
      const std::vector<int32_t> a = tok->Encode(text, false, false);
      EXPECT_EQ(a, tok->Encode(text, false, false)) << "not deterministic: " << Escape(text);
      const std::string expected = tok == spm_ ? " " + text : text;
      EXPECT_EQ(tok->DecodeBytes(a), expected) << Escape(text);
      const std::string decoded = tok->Decode(a);
      EXPECT_NE(decoded.find("\xEF\xBF\xBD"), std::string::npos) << Escape(text);
    }
  }
}

TEST_F(SpecialTokens, NulBytesAreText) {
  const std::string text("nul\0byte", 8);
  EXPECT_EQ(gpt2_->Decode(gpt2_->Encode(text, false, false)), text);
  EXPECT_EQ(spm_->Decode(spm_->Encode(text, false, false)), " " + text);
}

TEST_F(SpecialTokens, HugeInputs) {
  const std::vector<std::string> inputs = {
      std::string(1 << 20, 'a'),
      std::string(1 << 20, ' '),
      std::string(1 << 20, '\n'),
      std::string(1 << 19, '7'),
      std::string(1 << 20, '!'),
      [] {
        std::string s;
        while (s.size() < (1u << 20)) s += "\xE6\x97\xA5\xE6\x9C\xAC\xE8\xAA\x9E";  // 日本語
        return s;
      }(),
      [] {
        std::string s;
        while (s.size() < (1u << 20)) s += "Hello, world! \xF0\x9F\x99\x82 \t\n 12345 ";
        return s;
      }()};
  for (const std::string& text : inputs) {
    for (const Tokenizer* tok : {gpt2_, spm_}) {
      const std::vector<int32_t> ids = tok->Encode(text, false, false);
      EXPECT_FALSE(ids.empty());
      const std::string expected = tok == spm_ ? " " + text : text;
      EXPECT_TRUE(tok->DecodeBytes(ids) == expected) << "round trip failed, size " << text.size();
    }
  }
}

TEST_F(SpecialTokens, RandomBytesRoundTrip) {
  std::mt19937 rng(1234);
  for (int round = 0; round < 200; ++round) {
    std::string text(rng() % 64, '\0');
    for (char& c : text) c = static_cast<char>(rng() & 0xFF);
    const std::vector<int32_t> gpt2_ids = gpt2_->Encode(text, false, true);
    EXPECT_EQ(gpt2_->DecodeBytes(gpt2_ids), text);
    const std::vector<int32_t> spm_ids = spm_->Encode(text, false, false);
    EXPECT_EQ(spm_->DecodeBytes(spm_ids), text.empty() ? "" : " " + text);
  }
}

TEST_F(SpecialTokens, ConcurrentEncodeMatchesSerial) {
  std::vector<std::string> texts;
  for (int i = 0; i < 64; ++i) {
    texts.push_back("Thread-safe text number " + std::to_string(i * 7919) +
                    " with\tmixed   whitespace, \xF0\x9F\x99\x82 and <|endoftext|> words" +
                    std::string(static_cast<size_t>(i), 'x'));
  }
  for (const Tokenizer* tok : {gpt2_, spm_}) {
    std::vector<std::vector<int32_t>> expected;
    for (const std::string& t : texts) expected.push_back(tok->Encode(t, true, true));
    std::vector<int> mismatches(4, 0);
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
      threads.emplace_back([&, t] {
        for (int round = 0; round < 20; ++round) {
          for (size_t i = 0; i < texts.size(); ++i) {
            const size_t k = (i + static_cast<size_t>(t) * 13) % texts.size();
            if (tok->Encode(texts[k], true, true) != expected[k]) ++mismatches[t];
          }
        }
      });
    }
    for (std::thread& th : threads) th.join();
    for (int m : mismatches) EXPECT_EQ(m, 0);
  }
}

// A vocabulary built in memory: broken metadata must give clear errors, not crashes.
ts::gguf::GgufFile BuildVocab(const std::function<void(ts::gguf::GgufWriter&)>& edit) {
  ts::gguf::GgufWriter w;
  w.SetString("general.architecture", "llama");
  w.SetString("tokenizer.ggml.model", "llama");
  w.SetStringArray("tokenizer.ggml.tokens", {"<unk>", "<s>", "</s>", "a", "b", "ab"});
  w.SetF32Array("tokenizer.ggml.scores", {0, 0, 0, -1, -2, -0.5f});
  w.SetI32Array("tokenizer.ggml.token_type", {2, 3, 3, 1, 1, 1});
  w.SetU32("tokenizer.ggml.bos_token_id", 1);
  w.SetU32("tokenizer.ggml.eos_token_id", 2);
  edit(w);
  const std::vector<uint8_t> bytes = w.ToBytes();
  return ts::gguf::GgufFile::FromBytes(bytes);
}

TEST(TokenizerFromGguf, SmallSpmVocab) {
  const auto tok = Tokenizer::FromGguf(BuildVocab([](ts::gguf::GgufWriter& w) {
    w.SetU32("tokenizer.ggml.unknown_token_id", 0);
    w.SetBool("tokenizer.ggml.add_space_prefix", false);
  }));
  EXPECT_EQ(tok->Encode("abab", false, false), (std::vector<int32_t>{5, 5}));
  EXPECT_EQ(tok->Encode("abc", false, false), (std::vector<int32_t>{5, 0}));  // no <0x63>: unk
}

// A byte-level vocabulary: the 256 byte tokens, "ab", a control token, "!a"; merges
// "! a" before "a b".
ts::gguf::GgufFile BuildBpeVocab(const std::function<void(ts::gguf::GgufWriter&)>& edit) {
  std::vector<std::string> tokens(ByteToUnicode().begin(), ByteToUnicode().end());
  tokens.emplace_back("ab");
  tokens.emplace_back("<|end|>");
  tokens.emplace_back("!a");
  std::vector<int32_t> types(tokens.size(), 1);
  types[257] = 3;
  ts::gguf::GgufWriter w;
  w.SetString("tokenizer.ggml.model", "gpt2");
  w.SetStringArray("tokenizer.ggml.tokens", tokens);
  w.SetI32Array("tokenizer.ggml.token_type", types);
  w.SetStringArray("tokenizer.ggml.merges", {"! a", "a b"});
  edit(w);
  const std::vector<uint8_t> bytes = w.ToBytes();
  return ts::gguf::GgufFile::FromBytes(bytes);
}

TEST(TokenizerFromGguf, PreTokenizerChoice) {
  const auto byte_id = [](char c) {
    const std::string& text = ByteToUnicode()[static_cast<uint8_t>(c)];
    return static_cast<int32_t>(std::find(ByteToUnicode().begin(), ByteToUnicode().end(), text) -
                                ByteToUnicode().begin());
  };
  const auto unknown = Tokenizer::FromGguf(
      BuildBpeVocab([](auto& w) { w.SetString("tokenizer.ggml.pre", "no-such-pre"); }));
  EXPECT_EQ(unknown->pre_name(), "default");
  EXPECT_EQ(unknown->Encode("ab ab", false, false), (std::vector<int32_t>{256, byte_id(' '), 256}));
  EXPECT_FALSE(unknown->add_bos_default());
  EXPECT_TRUE(unknown->IsEndOfGeneration(257));  // <|end|> is a known end-of-turn token

  const auto bitnet = Tokenizer::FromGguf(
      BuildBpeVocab([](auto& w) { w.SetString("general.architecture", "bitnet-25"); }));
  EXPECT_EQ(bitnet->pre_name(), "llama-bpe");
  // Llama 3's regex keeps one leading punctuation character with a word; GPT-2's does not.
  EXPECT_EQ(bitnet->Encode("!ab", false, false), (std::vector<int32_t>{258, byte_id('b')}));
  EXPECT_EQ(unknown->Encode("!ab", false, false), (std::vector<int32_t>{byte_id('!'), 256}));
  const auto gpt2 = Tokenizer::FromGguf(
      BuildBpeVocab([](auto& w) { w.SetString("tokenizer.ggml.pre", "gpt-2"); }));
  EXPECT_EQ(gpt2->pre_name(), "gpt-2");
  EXPECT_EQ(gpt2->Encode("<|end|>", false, true), (std::vector<int32_t>{257}));
}

TEST(TokenizerFromGguf, ClearErrors) {
  const auto expect_error = [](const std::function<void(ts::gguf::GgufWriter&)>& edit,
                               const std::string& needle) {
    try {
      Tokenizer::FromGguf(BuildVocab(edit));
      ADD_FAILURE() << "no error; expected one mentioning " << needle;
    } catch (const std::runtime_error& e) {
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    }
  };
  expect_error([](auto& w) { w.SetString("tokenizer.ggml.model", "rwkv"); }, "rwkv");
  expect_error([](auto& w) { w.SetStringArray("tokenizer.ggml.tokens", {}); },
               "tokenizer.ggml.tokens");
  expect_error(
      [](auto& w) {
        w.SetF32Array("tokenizer.ggml.scores", {1, 2});
      },
      "tokenizer.ggml.scores");
  expect_error(
      [](auto& w) {
        w.SetI32Array("tokenizer.ggml.token_type", {1, 1, 1, 1, 1, 99});
      },
      "token_type");
  expect_error(
      [](auto& w) {
        w.SetString("tokenizer.ggml.model", "gpt2");
        w.SetStringArray("tokenizer.ggml.merges", {"nospace"});
      },
      "merges");
  expect_error([](auto& w) { w.SetString("tokenizer.ggml.model", "gpt2"); }, "merges");
  // Out-of-range special ids are dropped with a warning, not fatal.
  const auto tok = Tokenizer::FromGguf(
      BuildVocab([](auto& w) { w.SetU32("tokenizer.ggml.eos_token_id", 4000); }));
  EXPECT_EQ(tok->eos_id(), -1);
}

}  // namespace
}  // namespace ts::tokenizer::testing
