// JsonPrefix: documents fed whole and byte by byte, the byte where invalid text is refused,
// and CanFeed agreeing with Feed (its stack probe against a copy of the stack).
#include "engine/sample/json_prefix.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

namespace ts::sample {
namespace {

// Returns how many bytes of text are accepted when fed one at a time.
size_t AcceptedBytes(const std::string& text, JsonPrefix* prefix = nullptr) {
  JsonPrefix local;
  JsonPrefix& p = prefix != nullptr ? *prefix : local;
  for (size_t i = 0; i < text.size(); ++i) {
    if (!p.Feed(text.substr(i, 1))) return i;
  }
  return text.size();
}

bool IsJsonObject(const std::string& text) {
  return nlohmann::json::accept(text) && nlohmann::json::parse(text).is_object();
}

const std::vector<std::string> kValidObjects = {
    "{}",
    "\n\t{ } ",
    R"({"a":1})",
    R"({"a": [1, -2.5, 3e10, 0.5E-3, -0, 0e+1], "b": {"c": [[], {}]}, "d": "x"})",
    R"({"t": true, "f": false, "n": null, "s": ""})",
    R"({"esc": "\" \\ \/ \b \f \n \r \t \u00e9 \uD83D\uDE00"})",
    "{\"utf8\": \"caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80\"}",
    "{\n  \"pretty\": {\n    \"list\": [\n      1,\n      2\n    ]\n  }\n}",
};

TEST(JsonPrefix, AcceptsValidObjectsAndCompletesAtTheClosingBrace) {
  for (const std::string& doc : kValidObjects) {
    SCOPED_TRACE(doc);
    ASSERT_TRUE(IsJsonObject(doc));  // the fixture itself is valid
    const size_t close = doc.find_last_of('}');
    JsonPrefix p;
    EXPECT_EQ(AcceptedBytes(doc.substr(0, close), &p), close);
    EXPECT_FALSE(p.complete());
    EXPECT_TRUE(p.Feed("}"));
    EXPECT_TRUE(p.complete());
    EXPECT_FALSE(p.CanFeed(" "));  // nothing follows the object
    JsonPrefix whole;
    EXPECT_TRUE(whole.Feed(doc.substr(0, close + 1)));
    EXPECT_TRUE(whole.complete());
  }
}

TEST(JsonPrefix, RefusesInvalidTextAtTheFirstBadByte) {
  struct Case {
    std::string text;
    size_t good;  // bytes accepted before the refusal
  };
  const std::vector<Case> cases = {
      {"[1]", 0},  // the top level is an object
      {"\"a\"", 0},
      {"{'a': 1}", 1},      // single quotes
      {"{a: 1}", 1},        // bare key
      {R"({"a" 1})", 5},    // missing colon
      {R"({"a": 01})", 7},  // leading zero
      {R"({"a": 1.})", 8},  // no digits after the point
      {R"({"a": -})", 7},
      {R"({"a": 1e})", 8},
      {R"({"a": 1,})", 8},  // trailing comma
      {R"({"a": [1,]})", 9},
      {R"({"a": tru})", 9},
      {R"({"a": nul1})", 9},
      {R"({"a": [}})", 7},  // mismatched close
      {R"({"a": 1]})", 7},
      {R"({"a": "\x"})", 8},  // unknown escape
      {R"({"a": "\u12G4"})", 11},
      {"{\"a\": \"\x01\"}", 7},              // raw control character
      {"{\"a\": \"\xC0\x80\"}", 7},          // overlong
      {"{\"a\": \"\xED\xA0\x80\"}", 8},      // surrogate in UTF-8
      {"{\"a\": \"\xF4\x90\x80\x80\"}", 8},  // above U+10FFFF
      {"{\"a\": \"\xC3(\"}", 8},             // missing continuation byte
      {R"({"a": "\uDE00"})", 12},            // low surrogate alone
      {R"({"a": "\uD83Dx"})", 13},           // high surrogate alone
      {R"({"a": "\uD83D\n"})", 14},
      {R"({"a": "\uD83D\u0041"})", 18},  // high surrogate with a non-surrogate
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.text);
    EXPECT_FALSE(IsJsonObject(c.text));  // the case is really not a JSON object
    EXPECT_EQ(AcceptedBytes(c.text), c.good);
  }
}

TEST(JsonPrefix, FeedIsAllOrNothing) {
  JsonPrefix p;
  ASSERT_TRUE(p.Feed(R"({"a": [1)"));
  EXPECT_FALSE(p.Feed("2, }"));  // '}' closes the wrong container
  EXPECT_TRUE(p.Feed("2]}"));    // the state before the failed Feed is intact
  EXPECT_TRUE(p.complete());
}

TEST(JsonPrefix, CapsNestingAndWhitespaceRuns) {
  JsonPrefix deep;
  ASSERT_TRUE(deep.Feed(R"({"a":)"));
  for (int depth = 1; depth < JsonPrefix::kMaxDepth; ++depth) ASSERT_TRUE(deep.Feed("[")) << depth;
  EXPECT_FALSE(deep.CanFeed("["));
  EXPECT_FALSE(deep.CanFeed("{"));
  EXPECT_TRUE(deep.CanFeed("1"));

  JsonPrefix number;
  ASSERT_TRUE(number.Feed(R"({"a": -)" + std::string(JsonPrefix::kMaxDigits, '9') + "." +
                          std::string(JsonPrefix::kMaxDigits, '9') + "e+999"));
  EXPECT_FALSE(number.CanFeed("9"));
  EXPECT_TRUE(number.Feed(", \"b\": 1"));
  EXPECT_TRUE(number.CanFeed(std::string(JsonPrefix::kMaxDigits - 1, '0')));
  EXPECT_FALSE(number.CanFeed(std::string(JsonPrefix::kMaxDigits, '0')));

  JsonPrefix ws;  // one space, or a newline and its indentation
  EXPECT_TRUE(ws.Feed(" "));
  EXPECT_FALSE(ws.CanFeed(" "));
  EXPECT_FALSE(ws.CanFeed("\n"));
  EXPECT_TRUE(ws.Feed("{\n"));
  EXPECT_FALSE(ws.CanFeed("\n"));
  EXPECT_FALSE(ws.CanFeed("\r"));
  EXPECT_TRUE(ws.Feed(std::string(JsonPrefix::kMaxIndent - 1, ' ') + "\t"));
  EXPECT_FALSE(ws.CanFeed(" "));
  std::string key(202, ' ');  // inside strings any amount
  key.front() = key.back() = '"';
  EXPECT_TRUE(ws.Feed(key));
  EXPECT_FALSE(ws.CanFeed("\t"));  // a tab does not start a run
  EXPECT_TRUE(ws.Feed(" :"));
}

// CanFeed uses a probe over the committed stack for short pieces and a copy for long ones;
// both must agree with Feed on a copy, for pieces that pop and push containers.
TEST(JsonPrefix, CanFeedAgreesWithFeed) {
  const std::string alphabet = "{}[]\",:01-.e tfnrulsa\\";
  std::mt19937 rng(7);
  std::uniform_int_distribution<size_t> pick(0, alphabet.size() - 1);
  std::uniform_int_distribution<size_t> length(1, 24);
  int accepted = 0;
  for (int trial = 0; trial < 20000; ++trial) {
    JsonPrefix p;
    ASSERT_TRUE(p.Feed(R"({"k": [[{"x": [)"));
    std::string piece;
    for (size_t n = length(rng); piece.size() < n;) piece += alphabet[pick(rng)];
    JsonPrefix copy = p;
    const bool fed = copy.Feed(piece);
    EXPECT_EQ(p.CanFeed(piece), fed) << piece;
    accepted += fed ? 1 : 0;
  }
  EXPECT_GT(accepted, 100);  // the random pieces do exercise the accepting paths
}

}  // namespace
}  // namespace ts::sample
