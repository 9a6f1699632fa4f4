// Whether text so far can still become a JSON object that fits a schema (JSON mode: any
// object; Structured Outputs: the request's schema, see json_schema.h): a byte-at-a-time
// pushdown recognizer behind the JSON token constraint. It accepts RFC 8259 JSON only: strings
// must be valid UTF-8 (no overlong forms or surrogates) and \u escapes properly paired
// surrogates, so anything complete parses with strict parsers (nlohmann::json, Python's json,
// JavaScript's JSON.parse). Keys of an object with declared properties come in their declared
// order (optional ones may be left out), as OpenAI's Structured Outputs write them.
//
// Guards a grammar alone does not give: nesting is capped at kMaxDepth, numbers at
// kMaxDigits digits before and after the point (3 in the exponent), and whitespace
// outside strings is one space, or a newline and up to kMaxIndent spaces or tabs (as llama.cpp's
// JSON grammar does), since a model held to JSON can otherwise emit whitespace (or digits)
// until max_tokens (OpenAI warns of exactly that in JSON mode).
#pragma once

#include <cstdint>
#include <memory>
#include <string_view>
#include <vector>

#include "engine/sample/json_schema.h"

namespace ts::sample {

class JsonPrefix {
 public:
  static constexpr int kMaxDepth = 64;
  static constexpr int kMaxIndent = 32;
  static constexpr int kMaxDigits = 16;

  // Any JSON object.
  JsonPrefix();
  // An object fitting `schema` (its root node must allow objects only).
  explicit JsonPrefix(std::shared_ptr<const JsonSchema> schema);

  // Appends bytes if the text stays a prefix of a fitting object and returns true; otherwise
  // returns false and changes nothing.
  bool Feed(std::string_view bytes);
  // Returns whether Feed(bytes) would succeed, without feeding them.
  bool CanFeed(std::string_view bytes) const;
  // True once the object is closed: no byte can follow.
  bool complete() const { return lexer_.mode == Mode::kDone; }

  // The recognizer's state; public for the machinery in the .cpp file.
  enum class Mode : uint8_t {
    kStart,       // before the top-level '{'
    kObjectOpen,  // after '{': a key or '}'
    kKey,         // after ',' in an object: a key
    kColon,       // after a key
    kValue,       // after ':' or ',' in an array: a value of node value_node
    kArrayOpen,   // after '[': a value or ']'
    kAfterValue,  // after a value inside a container: ',' or the container's close
    kString,
    kNumber,
    kLiteral,  // true / false / null
    kMatch,    // one of a set of texts: an enum value, or a key of a declared property
    kDone,
  };
  enum class Number : uint8_t { kMinus, kZero, kInt, kDot, kFrac, kExp, kExpSign, kExpDigits };
  struct Lexer {
    Mode mode = Mode::kStart;
    int value_node = 0;  // schema node of the value that starts next
    bool string_is_key = false;
    bool escape = false;              // after '\' in a string
    bool want_low_surrogate = false;  // a \uD800-\uDBFF escape must be followed by \uDC00-\uDFFF
    uint8_t hex_left = 0;             // hex digits still due in a \u escape
    uint16_t hex_value = 0;
    uint8_t utf8_left = 0;                   // continuation bytes still due in a string
    uint8_t utf8_lo = 0x80, utf8_hi = 0xBF;  // allowed range of the next continuation byte
    Number number = Number::kInt;
    bool integer_only = false;
    uint8_t number_digits = 0;  // digits in the current part of the number
    uint8_t literal = 0;        // index into the literals table
    uint8_t literal_pos = 0;
    bool match_is_key = false;  // kMatch: keys of match_node's properties from match_first on,
    int match_node = 0;         // or match_node's literals
    int match_first = 0;
    uint16_t match_pos = 0;      // bytes matched so far
    uint64_t match_alive = 0;    // candidates still matching (bit i: candidate match_first + i)
    uint8_t whitespace_run = 0;  // bytes of the current run of whitespace
    bool newline_run = false;    // the run began with a newline
  };
  struct Frame {  // trivial, so a probe's scratch frames cost nothing to set up
    int node;     // schema node of the container
    char kind;    // '{' or '['
    int next;     // object with properties: index of the next property; array: items so far
  };

 private:
  std::shared_ptr<const JsonSchema> schema_;
  Lexer lexer_;
  std::vector<Frame> stack_;  // open containers, outermost first
};

}  // namespace ts::sample
