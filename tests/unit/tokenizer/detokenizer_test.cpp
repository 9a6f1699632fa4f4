// IncrementalDetokenizer and the UTF-8 helpers under it: never a partial character out,
// U+FFFD for invalid sequences, the same text as Decode in total.
#include <gtest/gtest.h>

#include <random>

#include "engine/tokenizer/unicode.h"
#include "tests/unit/tokenizer/test_util.h"

namespace ts::tokenizer::testing {
namespace {

const std::string kFffd = "\xEF\xBF\xBD";

std::string Sanitize(std::string_view s) {
  std::string out;
  AppendSanitizedUtf8(s, true, &out);
  return out;
}

TEST(Utf8, ScanAcceptsValidAndRejectsInvalid) {
  EXPECT_EQ(ScanUtf8("\xF4\x8F\xBF\xBF", 0).status, Utf8Status::kValid);  // U+10FFFF
  EXPECT_EQ(ScanUtf8("\xF4\x8F\xBF\xBF", 0).codepoint, 0x10FFFFu);
  EXPECT_EQ(ScanUtf8("\xE2\x96\x81", 0).codepoint, 0x2581u);
  EXPECT_EQ(ScanUtf8("\xC0\x80", 0).status, Utf8Status::kInvalid);      // overlong
  EXPECT_EQ(ScanUtf8("\xE0\x80\x80", 0).status, Utf8Status::kInvalid);  // overlong
  EXPECT_EQ(ScanUtf8("\xED\xA0\x80", 0).status, Utf8Status::kInvalid);  // surrogate
  EXPECT_EQ(ScanUtf8("\xF4\x90\x80\x80", 0).status, Utf8Status::kInvalid);
  EXPECT_EQ(ScanUtf8("\xF0\x9F\x99", 0).status, Utf8Status::kTruncated);
  EXPECT_EQ(ScanUtf8("\xF0\x9F\x99", 0).length, 3u);
}

TEST(Utf8, SanitizeReplacesMaximalSubparts) {
  EXPECT_EQ(Sanitize("abc"), "abc");
  EXPECT_EQ(Sanitize("\xFF"), kFffd);
  EXPECT_EQ(Sanitize("a\xF0\x9F\x99z"), "a" + kFffd + "z");  // one U+FFFD for the 3 bytes
  EXPECT_EQ(Sanitize("\xF0\x9F\x99"), kFffd);
  EXPECT_EQ(Sanitize("\xED\xA0\x80"), kFffd + kFffd + kFffd);  // ED then two stray bytes
  std::string partial;
  EXPECT_EQ(AppendSanitizedUtf8("ok\xE2\x82", false, &partial), 2u);
  EXPECT_EQ(partial, "ok");
}

TEST(Utf8, ByteMapIsGpt2s) {
  EXPECT_EQ(ByteToUnicode()[' '], "\xC4\xA0");   // Ġ
  EXPECT_EQ(ByteToUnicode()['\n'], "\xC4\x8A");  // Ċ
  EXPECT_EQ(ByteToUnicode()['A'], "A");
  for (int b = 0; b < 256; ++b) {
    const Utf8Scan scan = ScanUtf8(ByteToUnicode()[b], 0);
    EXPECT_EQ(UnicodeToByte(scan.codepoint), b);
  }
  EXPECT_EQ(UnicodeToByte(0x4E2D), -1);
}

class Detokenizer : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    gpt2_ = LoadFixtureTokenizer("ggml-vocab-gpt-2.gguf").release();
    spm_ = LoadFixtureTokenizer("ggml-vocab-llama-spm.gguf").release();
  }
  static void TearDownTestSuite() {
    delete gpt2_;
    delete spm_;
  }
  // The byte-level token of one byte.
  static int32_t ByteToken(const Tokenizer& tok, uint8_t byte) {
    const std::vector<int32_t> ids =
        tok.Encode(std::string(1, static_cast<char>(byte)), false, false);
    EXPECT_EQ(ids.size(), tok.model_name() == "gpt2" ? 1u : 2u);
    return ids.back();
  }
  static Tokenizer* gpt2_;
  static Tokenizer* spm_;
};
Tokenizer* Detokenizer::gpt2_ = nullptr;
Tokenizer* Detokenizer::spm_ = nullptr;

TEST_F(Detokenizer, EmojiSplitOverByteTokens) {
  const std::string emoji = "\xF0\x9F\x99\x82";  // 🙂
  for (const Tokenizer* tok : {gpt2_, spm_}) {
    IncrementalDetokenizer detok(*tok);
    for (size_t i = 0; i < 3; ++i) {
      EXPECT_EQ(detok.Push(ByteToken(*tok, static_cast<uint8_t>(emoji[i]))), "");
      EXPECT_EQ(detok.pending_bytes(), i + 1);
    }
    EXPECT_EQ(detok.Push(ByteToken(*tok, static_cast<uint8_t>(emoji[3]))), emoji);
    EXPECT_EQ(detok.Flush(), "");
  }
}

TEST_F(Detokenizer, StreamsEncodedTextWithoutPartialCharacters) {
  const std::string text = "Grüße 🙂👍🏽 日本語 — 🇫🇷 done";
  for (const Tokenizer* tok : {gpt2_, spm_}) {
    IncrementalDetokenizer detok(*tok);
    std::string streamed;
    for (int32_t id : tok->Encode(text, false, false)) {
      const std::string piece = detok.Push(id);
      EXPECT_EQ(Sanitize(piece), piece) << "partial or invalid UTF-8 emitted";
      streamed += piece;
    }
    streamed += detok.Flush();
    EXPECT_EQ(streamed, tok == spm_ ? " " + text : text);
  }
}

TEST_F(Detokenizer, InvalidSequencesBecomeReplacementCharacters) {
  IncrementalDetokenizer detok(*gpt2_);
  EXPECT_EQ(detok.Push(ByteToken(*gpt2_, 0xFF)), kFffd);  // can never start a character
  EXPECT_EQ(detok.Push(ByteToken(*gpt2_, 0xF0)), "");
  EXPECT_EQ(detok.Push(ByteToken(*gpt2_, 'a')), kFffd + "a");  // the F0 was cut short
  EXPECT_EQ(detok.Push(ByteToken(*gpt2_, 0xE2)), "");
  EXPECT_EQ(detok.Push(ByteToken(*gpt2_, 0x82)), "");
  EXPECT_EQ(detok.Flush(), kFffd);  // incomplete at the end
  EXPECT_EQ(detok.pending_bytes(), 0u);
  EXPECT_EQ(detok.Push(gpt2_->Encode("ok", false, false)[0]), "ok");
}

TEST_F(Detokenizer, BadIdThrowsAndKeepsState) {
  IncrementalDetokenizer detok(*gpt2_);
  EXPECT_EQ(detok.Push(ByteToken(*gpt2_, 0xC3)), "");
  EXPECT_THROW(detok.Push(-1), std::out_of_range);
  EXPECT_THROW(detok.Push(gpt2_->n_vocab()), std::out_of_range);
  EXPECT_EQ(detok.Push(ByteToken(*gpt2_, 0xA9)), "\xC3\xA9");  // é
}

TEST_F(Detokenizer, MatchesDecodeOnRandomIds) {
  std::mt19937 rng(42);
  for (const Tokenizer* tok : {gpt2_, spm_}) {
    for (int round = 0; round < 200; ++round) {
      std::vector<int32_t> ids(rng() % 20);
      for (int32_t& id : ids)
        id = static_cast<int32_t>(rng() % static_cast<uint32_t>(tok->n_vocab()));
      // Bias towards byte tokens, where characters get split.
      if (tok == spm_) {
        for (int32_t& id : ids) {
          if (rng() % 2) id = 3 + static_cast<int32_t>(rng() % 256);
        }
      }
      IncrementalDetokenizer detok(*tok);
      std::string streamed;
      for (int32_t id : ids) streamed += detok.Push(id);
      streamed += detok.Flush();
      EXPECT_EQ(streamed, tok->Decode(ids));
      EXPECT_EQ(Sanitize(streamed), streamed);
    }
  }
}

}  // namespace
}  // namespace ts::tokenizer::testing
