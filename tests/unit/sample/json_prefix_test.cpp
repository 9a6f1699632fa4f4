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

// A schema with declared keys, optional ones, enums, bounded arrays and alternatives, built by
// hand as the server's compiler would: {"a": [{"b": "x" | "yz", "c": int}, 1..3 of them],
// "d"?: string | null}.
std::shared_ptr<const JsonSchema> RecordsSchema() {
  JsonSchema s;
  s.nodes.resize(7);
  s.root = 1;
  s.nodes[1].types = kJsonObject;
  s.nodes[1].properties = {{"\"a\"", 2, true}, {"\"d\"", 5, false}};
  s.nodes[1].closed = true;
  s.nodes[2].types = kJsonArray;
  s.nodes[2].items = 3;
  s.nodes[2].min_items = 1;
  s.nodes[2].max_items = 3;
  s.nodes[3].types = kJsonObject;
  s.nodes[3].properties = {{"\"b\"", 4, true}, {"\"c\"", 6, true}};
  s.nodes[3].closed = true;
  s.nodes[4].literals = {"\"x\"", "\"yz\""};
  s.nodes[5].types = kJsonString | kJsonNull;
  s.nodes[6].types = kJsonInteger;
  return std::make_shared<const JsonSchema>(std::move(s));
}

bool FitsRecords(const nlohmann::json& v) {
  if (!v.is_object() || !v.contains("a") || v.size() != (v.contains("d") ? 2u : 1u)) return false;
  const auto& a = v["a"];
  if (!a.is_array() || a.empty() || a.size() > 3) return false;
  for (const auto& r : a) {
    if (!r.is_object() || r.size() != 2 || !r.contains("b") || !r.contains("c")) return false;
    if (r["b"] != "x" && r["b"] != "yz") return false;
    if (!r["c"].is_number_integer()) return false;
  }
  return !v.contains("d") || v["d"].is_string() || v["d"].is_null();
}

// Random walks through the schema: at every step every fragment (and a few random
// concatenations, some too long for the probe) is offered, CanFeed must agree with Feed for
// each, and the walk goes on with one of those accepted; every completed text must parse and
// fit the schema.
TEST(JsonPrefix, SchemaWalksAgreeWithFeedAndFit) {
  const std::vector<std::string> fragments = {"{",
                                              "}",
                                              "[",
                                              "]",
                                              ",",
                                              ":",
                                              " ",
                                              "\n  ",
                                              "\"a\"",
                                              "\"b\"",
                                              "\"c\"",
                                              "\"d\"",
                                              "\"x\"",
                                              "\"yz\"",
                                              "\"y",
                                              "z\"",
                                              "1",
                                              "23",
                                              "-",
                                              "null",
                                              "nu",
                                              "ll",
                                              "\"s",
                                              "t\"",
                                              "\"a\": [",
                                              "}, {",
                                              "1.5",
                                              "0",
                                              "e3",
                                              "[]",
                                              "{}",
                                              "}]",
                                              "\"a\": [{\"b\": \"x\", \"c\": 1}",
                                              "{\"b\":\"yz\",\"c\":2}"};
  const auto schema = RecordsSchema();
  std::mt19937 rng(11);
  std::uniform_int_distribution<size_t> pick(0, fragments.size() - 1);
  int completed = 0, steps = 0;
  for (int walk = 0; walk < 300; ++walk) {
    JsonPrefix p(schema);
    std::string text;
    for (int step = 0; step < 120 && !p.complete(); ++step) {
      std::vector<std::string> offers = fragments;
      for (int k = 0; k < 3; ++k) {
        std::string long_piece;
        for (int n = 0; n < 6; ++n) long_piece += fragments[pick(rng)];
        offers.push_back(long_piece);
      }
      std::vector<std::string> accepted;
      for (const std::string& piece : offers) {
        JsonPrefix copy = p;
        const bool fed = copy.Feed(piece);
        ASSERT_EQ(p.CanFeed(piece), fed) << text << " + " << piece;
        if (fed) accepted.push_back(piece);
      }
      ASSERT_FALSE(accepted.empty()) << text;  // some fragment always continues
      const std::string& next =
          accepted[std::uniform_int_distribution<size_t>(0, accepted.size() - 1)(rng)];
      ASSERT_TRUE(p.Feed(next));
      text += next;
      ++steps;
    }
    if (p.complete()) {
      ++completed;
      ASSERT_TRUE(nlohmann::json::accept(text)) << text;
      EXPECT_TRUE(FitsRecords(nlohmann::json::parse(text))) << text;
    }
  }
  EXPECT_GT(completed, 30);  // the walks do reach the end of the schema
  RecordProperty("completed", completed);
  RecordProperty("steps", steps);
}

// {"name": "a" | "b", "args": ...}: a tagged union whose variant "a" needs {"x": integer} and
// "b" an empty object, built with JsonSchema::Append as the server builds tool calls.
std::shared_ptr<const JsonSchema> CallSchema() {
  auto call = [](const std::string& name_literal, int args_node_types, bool args_needs_x) {
    JsonSchema s;
    s.nodes.resize(6);
    s.root = 1;
    s.nodes[1].types = kJsonObject;
    s.nodes[1].closed = true;
    s.nodes[1].properties = {{"\"name\"", 2, true}, {"\"args\"", 3, true}};
    s.nodes[2].literals = {name_literal};
    s.nodes[3].types = static_cast<uint8_t>(args_node_types);
    s.nodes[3].closed = true;
    if (args_needs_x) s.nodes[3].properties = {{"\"x\"", 4, true}};
    s.nodes[4].types = kJsonInteger;
    return s;
  };
  JsonSchema any = call("\"a\"", kJsonObject, false);
  any.nodes[2].literals = {"\"a\"", "\"b\""};
  any.nodes[3].closed = false;  // any object until the tag is known
  const int a = any.Append(call("\"a\"", kJsonObject, true));
  const int b = any.Append(call("\"b\"", kJsonObject, false));
  EXPECT_EQ(a, 6);
  EXPECT_EQ(any.nodes[static_cast<size_t>(a)].properties[1].schema, 8);  // indices moved
  any.nodes[1].variants = {a, b};
  return std::make_shared<const JsonSchema>(std::move(any));
}

TEST(JsonPrefix, TaggedUnionsFollowTheirTag) {
  const auto schema = CallSchema();
  auto accepted = [&](const std::string& text) {
    JsonPrefix p(schema);
    return AcceptedBytes(text, &p);
  };
  for (const std::string ok : {R"({"name": "a", "args": {"x": 5}})", R"({"name":"b","args":{}})"}) {
    JsonPrefix p(schema);
    EXPECT_EQ(AcceptedBytes(ok, &p), ok.size()) << ok;
    EXPECT_TRUE(p.complete()) << ok;
  }
  // "a" needs x: its args cannot close empty; "b" takes no keys.
  const std::string a_empty = R"({"name": "a", "args": {})";
  EXPECT_EQ(accepted(a_empty), a_empty.size() - 1);
  const std::string b_with_x = R"({"name": "b", "args": {"x")";
  EXPECT_EQ(accepted(b_with_x), b_with_x.find("\"x"));
  const std::string a_string = R"({"name": "a", "args": {"x": "5"}})";
  EXPECT_EQ(accepted(a_string), a_string.find("\"5"));
  // CanFeed (the stack probe) agrees.
  JsonPrefix p(schema);
  ASSERT_TRUE(p.Feed(R"({"name": "a", "args": )"));
  EXPECT_FALSE(p.CanFeed("{}"));
  EXPECT_TRUE(p.CanFeed("{\"x\""));
}

}  // namespace
}  // namespace ts::sample
