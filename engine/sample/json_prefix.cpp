#include "engine/sample/json_prefix.h"

#include <array>

namespace ts::sample {
namespace {

using Mode = JsonPrefix::Mode;
using Number = JsonPrefix::Number;
using Lexer = JsonPrefix::Lexer;

constexpr std::array<std::string_view, 3> kLiterals = {"true", "false", "null"};

// The committed stack.
struct OwnedStack {
  std::string* open;
  size_t size() const { return open->size(); }
  char top() const { return open->back(); }
  bool push(char c) {
    open->push_back(c);
    return true;
  }
  void pop() { open->pop_back(); }
};

// A trial on top of the committed stack that does not copy it: pops move a floor down the base,
// pushes go to a small local array (a token long enough to overflow it is checked on a copy).
struct ProbeStack {
  static constexpr size_t kLocal = 16;
  const std::string* base;
  size_t base_size;
  std::array<char, kLocal> local{};
  size_t n_local = 0;

  size_t size() const { return base_size + n_local; }
  char top() const { return n_local > 0 ? local[n_local - 1] : (*base)[base_size - 1]; }
  bool push(char c) {
    if (n_local == kLocal) return false;
    local[n_local++] = c;
    return true;
  }
  void pop() { n_local > 0 ? --n_local : --base_size; }
};

bool IsWhitespace(uint8_t c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}
bool IsDigit(uint8_t c) {
  return c >= '0' && c <= '9';
}
int HexDigit(uint8_t c) {
  if (IsDigit(c)) return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// A value just ended inside a container (or the top-level object closed).
template <class Stack>
void ValueDone(Lexer& lex, const Stack& stack) {
  lex.mode = stack.size() == 0 ? Mode::kDone : Mode::kAfterValue;
}

template <class Stack>
bool Open(Lexer& lex, Stack& stack, char c) {
  if (stack.size() >= JsonPrefix::kMaxDepth || !stack.push(c)) return false;
  lex.mode = c == '{' ? Mode::kObjectOpen : Mode::kArrayOpen;
  return true;
}

template <class Stack>
bool Close(Lexer& lex, Stack& stack, char open) {
  if (stack.size() == 0 || stack.top() != open) return false;
  stack.pop();
  ValueDone(lex, stack);
  return true;
}

void StartString(Lexer& lex, bool is_key) {
  lex.mode = Mode::kString;
  lex.string_is_key = is_key;
}

// The first byte of a value.
template <class Stack>
bool StartValue(Lexer& lex, Stack& stack, uint8_t c) {
  switch (c) {
    case '{':
    case '[':
      return Open(lex, stack, static_cast<char>(c));
    case '"':
      StartString(lex, false);
      return true;
    case '-':
      lex.mode = Mode::kNumber;
      lex.number = Number::kMinus;
      return true;
    case '0':
      lex.mode = Mode::kNumber;
      lex.number = Number::kZero;
      return true;
    default:
      break;
  }
  if (IsDigit(c)) {
    lex.mode = Mode::kNumber;
    lex.number = Number::kInt;
    return true;
  }
  for (uint8_t i = 0; i < kLiterals.size(); ++i) {
    if (c == static_cast<uint8_t>(kLiterals[i][0])) {
      lex.mode = Mode::kLiteral;
      lex.literal = i;
      lex.literal_pos = 1;
      return true;
    }
  }
  return false;
}

// A completed \u escape: surrogates must come as a high-low pair.
bool FinishEscape(Lexer& lex) {
  const uint16_t v = lex.hex_value;
  const bool high = v >= 0xD800 && v <= 0xDBFF, low = v >= 0xDC00 && v <= 0xDFFF;
  if (lex.want_low_surrogate != low) return false;
  lex.want_low_surrogate = high;
  return true;
}

bool StringByte(Lexer& lex, uint8_t c) {
  if (lex.utf8_left > 0) {
    if (c < lex.utf8_lo || c > lex.utf8_hi) return false;
    --lex.utf8_left;
    lex.utf8_lo = 0x80;
    lex.utf8_hi = 0xBF;
    return true;
  }
  if (lex.hex_left > 0) {
    const int digit = HexDigit(c);
    if (digit < 0) return false;
    lex.hex_value = static_cast<uint16_t>(lex.hex_value << 4 | digit);
    return --lex.hex_left > 0 || FinishEscape(lex);
  }
  if (lex.escape) {
    lex.escape = false;
    if (c == 'u') {
      lex.hex_left = 4;
      lex.hex_value = 0;
      return true;
    }
    if (lex.want_low_surrogate) return false;
    return c == '"' || c == '\\' || c == '/' || c == 'b' || c == 'f' || c == 'n' || c == 'r' ||
           c == 't';
  }
  if (c == '\\') {
    lex.escape = true;
    return true;
  }
  if (lex.want_low_surrogate) return false;
  if (c == '"') {
    if (lex.string_is_key) {
      lex.mode = Mode::kColon;
    } else {
      lex.mode = Mode::kAfterValue;  // strings are never the top-level value
    }
    return true;
  }
  if (c < 0x20) return false;  // control characters must be escaped
  if (c < 0x80) return true;
  // UTF-8 lead bytes, with the second byte's range excluding overlong forms, surrogates and
  // code points above U+10FFFF.
  lex.utf8_lo = 0x80;
  lex.utf8_hi = 0xBF;
  if (c >= 0xC2 && c <= 0xDF) {
    lex.utf8_left = 1;
  } else if (c >= 0xE0 && c <= 0xEF) {
    lex.utf8_left = 2;
    if (c == 0xE0) lex.utf8_lo = 0xA0;
    if (c == 0xED) lex.utf8_hi = 0x9F;
  } else if (c >= 0xF0 && c <= 0xF4) {
    lex.utf8_left = 3;
    if (c == 0xF0) lex.utf8_lo = 0x90;
    if (c == 0xF4) lex.utf8_hi = 0x8F;
  } else {
    return false;
  }
  return true;
}

// Returns 1 if c continues the number, 0 if the number is complete and c belongs to what
// follows, -1 if c is invalid here.
int NumberByte(Lexer& lex, uint8_t c) {
  const bool digit = IsDigit(c);
  switch (lex.number) {
    case Number::kMinus:
      if (c == '0')
        lex.number = Number::kZero;
      else if (digit)
        lex.number = Number::kInt;
      else
        return -1;
      return 1;
    case Number::kZero:
    case Number::kInt:
      if (digit && lex.number == Number::kInt) return 1;
      if (digit) return -1;  // no leading zeros
      if (c == '.')
        lex.number = Number::kDot;
      else if (c == 'e' || c == 'E')
        lex.number = Number::kExp;
      else
        return 0;
      return 1;
    case Number::kDot:
      if (!digit) return -1;
      lex.number = Number::kFrac;
      return 1;
    case Number::kFrac:
      if (digit) return 1;
      if (c != 'e' && c != 'E') return 0;
      lex.number = Number::kExp;
      return 1;
    case Number::kExp:
      if (c == '+' || c == '-')
        lex.number = Number::kExpSign;
      else if (digit)
        lex.number = Number::kExpDigits;
      else
        return -1;
      return 1;
    case Number::kExpSign:
      if (!digit) return -1;
      lex.number = Number::kExpDigits;
      return 1;
    case Number::kExpDigits:
      return digit ? 1 : 0;
  }
  return -1;
}

template <class Stack>
bool Step(Lexer& lex, Stack& stack, uint8_t c) {
  switch (lex.mode) {
    case Mode::kString:
      return StringByte(lex, c);
    case Mode::kNumber: {
      const int r = NumberByte(lex, c);
      if (r != 0) return r > 0;
      lex.mode = Mode::kAfterValue;  // numbers are never the top-level value
      break;                         // c is the byte after the number
    }
    case Mode::kLiteral: {
      const std::string_view word = kLiterals[lex.literal];
      if (c != static_cast<uint8_t>(word[lex.literal_pos])) return false;
      if (++lex.literal_pos == word.size()) ValueDone(lex, stack);
      return true;
    }
    case Mode::kDone:
      return false;
    default:
      break;
  }
  if (IsWhitespace(c)) {
    return ++lex.whitespace_run <= JsonPrefix::kMaxWhitespaceRun;
  }
  lex.whitespace_run = 0;
  switch (lex.mode) {
    case Mode::kStart:
      return c == '{' && Open(lex, stack, '{');
    case Mode::kObjectOpen:
      if (c == '}') return Close(lex, stack, '{');
      [[fallthrough]];
    case Mode::kKey:
      if (c != '"') return false;
      StartString(lex, true);
      return true;
    case Mode::kColon:
      if (c != ':') return false;
      lex.mode = Mode::kValue;
      return true;
    case Mode::kArrayOpen:
      if (c == ']') return Close(lex, stack, '[');
      return StartValue(lex, stack, c);
    case Mode::kValue:
      return StartValue(lex, stack, c);
    case Mode::kAfterValue:
      if (c == '}') return Close(lex, stack, '{');
      if (c == ']') return Close(lex, stack, '[');
      if (c != ',') return false;
      lex.mode = stack.top() == '{' ? Mode::kKey : Mode::kValue;
      return true;
    default:
      return false;
  }
}

template <class Stack>
bool FeedAll(Lexer& lex, Stack& stack, std::string_view bytes) {
  for (const char c : bytes) {
    if (!Step(lex, stack, static_cast<uint8_t>(c))) return false;
  }
  return true;
}

}  // namespace

bool JsonPrefix::CanFeed(std::string_view bytes) const {
  Lexer lex = lexer_;
  if (bytes.size() <= ProbeStack::kLocal) {
    ProbeStack probe{&stack_, stack_.size()};
    return FeedAll(lex, probe, bytes);
  }
  std::string copy = stack_;
  OwnedStack owned{&copy};
  return FeedAll(lex, owned, bytes);
}

bool JsonPrefix::Feed(std::string_view bytes) {
  Lexer lex = lexer_;
  std::string stack = stack_;
  OwnedStack owned{&stack};
  if (!FeedAll(lex, owned, bytes)) return false;
  lexer_ = lex;
  stack_ = std::move(stack);
  return true;
}

}  // namespace ts::sample
