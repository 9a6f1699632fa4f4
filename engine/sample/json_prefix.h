// Whether text so far can still become one JSON object (RFC 8259 with the object at the top,
// which is what OpenAI's JSON mode produces): a byte-at-a-time pushdown recognizer behind the
// JSON-mode token constraint. Strings must be valid UTF-8 (no overlong forms or surrogates) and
// \u escapes properly paired surrogates, so anything complete parses with strict parsers
// (nlohmann::json, Python's json, JavaScript's JSON.parse).
//
// Two guards a grammar alone does not give: nesting is capped at kMaxDepth, and a run of
// whitespace outside strings at kMaxWhitespaceRun bytes, since a model held to JSON can
// otherwise emit whitespace until max_tokens (OpenAI warns of exactly that in JSON mode).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace ts::sample {

class JsonPrefix {
 public:
  static constexpr int kMaxDepth = 64;
  static constexpr int kMaxWhitespaceRun = 64;

  // Appends bytes if the text stays a prefix of a JSON object and returns true; otherwise
  // returns false and changes nothing.
  bool Feed(std::string_view bytes);
  // Returns whether Feed(bytes) would succeed, without feeding them.
  bool CanFeed(std::string_view bytes) const;
  // True once the object is closed: no byte can follow.
  bool complete() const { return lexer_.mode == Mode::kDone; }

  // The recognizer's position; public only for the stack helpers in the .cpp file.
  enum class Mode : uint8_t {
    kStart,       // before the top-level '{'
    kObjectOpen,  // after '{': a key or '}'
    kKey,         // after ',' in an object: a key
    kColon,       // after a key
    kValue,       // after ':' or ',' in an array: a value
    kArrayOpen,   // after '[': a value or ']'
    kAfterValue,  // after a value inside a container: ',' or the container's close
    kString,
    kNumber,
    kLiteral,  // true / false / null
    kDone,
  };
  enum class Number : uint8_t { kMinus, kZero, kInt, kDot, kFrac, kExp, kExpSign, kExpDigits };
  struct Lexer {
    Mode mode = Mode::kStart;
    bool string_is_key = false;
    bool escape = false;              // after '\' in a string
    bool want_low_surrogate = false;  // a \uD800-\uDBFF escape must be followed by \uDC00-\uDFFF
    uint8_t hex_left = 0;             // hex digits still due in a \u escape
    uint16_t hex_value = 0;
    uint8_t utf8_left = 0;                   // continuation bytes still due in a string
    uint8_t utf8_lo = 0x80, utf8_hi = 0xBF;  // allowed range of the next continuation byte
    Number number = Number::kInt;
    uint8_t literal = 0;  // index into the literals table
    uint8_t literal_pos = 0;
    uint8_t whitespace_run = 0;
  };

 private:
  Lexer lexer_;
  std::string stack_;  // '{' or '[' per open container, outermost first
};

}  // namespace ts::sample
