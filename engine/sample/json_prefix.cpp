#include "engine/sample/json_prefix.h"

#include <array>
#include <string>

namespace ts::sample {
namespace {

using Mode = JsonPrefix::Mode;
using Number = JsonPrefix::Number;
using Lexer = JsonPrefix::Lexer;
using Frame = JsonPrefix::Frame;
using Node = JsonSchemaNode;

constexpr std::array<std::string_view, 3> kLiterals = {"true", "false", "null"};
constexpr std::array<uint8_t, 3> kLiteralTypes = {kJsonBool, kJsonBool, kJsonNull};

// The committed stack.
struct OwnedStack {
  std::vector<Frame>* frames;
  size_t size() const { return frames->size(); }
  const Frame& top() const { return frames->back(); }
  Frame& top_mut() { return frames->back(); }
  bool push(const Frame& f) {
    frames->push_back(f);
    return true;
  }
  void pop() { frames->pop_back(); }
};

// A trial on top of the committed stack that does not copy it: frames above `base_size` live in
// a small local array; popping or changing a committed frame first moves it there. A token long
// enough to overflow the array is checked on a copy instead.
struct ProbeStack {
  static constexpr size_t kLocal = 24;
  static constexpr size_t kMaxBytes = 16;  // pieces up to this long always fit
  explicit ProbeStack(const std::vector<Frame>* committed)
      : base(committed), base_size(committed->size()) {}

  const std::vector<Frame>* base;
  size_t base_size;
  std::array<Frame, kLocal> local;  // left uninitialized: written before read
  size_t n_local = 0;

  size_t size() const { return base_size + n_local; }
  const Frame& top() const { return n_local > 0 ? local[n_local - 1] : (*base)[base_size - 1]; }
  Frame& top_mut() {
    if (n_local == 0) local[n_local++] = (*base)[--base_size];
    return local[n_local - 1];
  }
  bool push(const Frame& f) {
    if (n_local == kLocal) return false;
    local[n_local++] = f;
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
uint64_t LowBits(size_t n) {
  return n >= 64 ? ~uint64_t{0} : (uint64_t{1} << n) - 1;
}

// A completed \u escape: surrogates must come as a high-low pair.
bool FinishEscape(Lexer& lex) {
  const uint16_t v = lex.hex_value;
  const bool high = v >= 0xD800 && v <= 0xDBFF, low = v >= 0xDC00 && v <= 0xDFFF;
  if (lex.want_low_surrogate != low) return false;
  lex.want_low_surrogate = high;
  return true;
}

// Returns 1 if c continues the number, 0 if the number is complete and c belongs to what
// follows, -1 if c is invalid here.
int NumberByte(Lexer& lex, uint8_t c) {
  const bool digit = IsDigit(c);
  const bool fraction_or_exponent = c == '.' || c == 'e' || c == 'E';
  if (fraction_or_exponent && lex.integer_only) return -1;
  switch (lex.number) {
    case Number::kMinus:
      if (!digit) return -1;
      lex.number = c == '0' ? Number::kZero : Number::kInt;
      return 1;
    case Number::kZero:
    case Number::kInt:
      if (digit) return lex.number == Number::kInt ? 1 : -1;  // no leading zeros
      if (!fraction_or_exponent) return 0;
      lex.number = c == '.' ? Number::kDot : Number::kExp;
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
      if (!digit && c != '+' && c != '-') return -1;
      lex.number = digit ? Number::kExpDigits : Number::kExpSign;
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

// Returns true if c continues the string (or ends it: lex.mode changes), false if invalid.
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
    lex.mode = lex.string_is_key ? Mode::kColon : Mode::kAfterValue;  // the caller finishes a value
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

// The recognizer over one stack type: the committed one, or a probe.
template <class Stack>
struct Machine {
  const JsonSchema& schema;
  Lexer& lex;
  Stack& stack;

  const Node& node(int index) const { return schema.nodes[static_cast<size_t>(index)]; }

  // A value just ended inside a container (or the top-level object closed).
  void ValueDone() {
    if (stack.size() == 0) {
      lex.mode = Mode::kDone;
      return;
    }
    if (stack.top().kind == '[') ++stack.top_mut().next;
    lex.mode = Mode::kAfterValue;
  }

  bool Open(int node_index, char kind) {
    if (stack.size() >= JsonPrefix::kMaxDepth || !stack.push({node_index, kind, 0})) return false;
    if (kind == '{') {
      lex.mode = Mode::kObjectOpen;
    } else {
      lex.mode = Mode::kArrayOpen;
      lex.value_node = node(node_index).items;
    }
    return true;
  }

  bool Close(char open) {
    if (stack.size() == 0 || stack.top().kind != open) return false;
    const Frame& f = stack.top();
    const Node& n = node(f.node);
    if (open == '{') {
      for (size_t p = static_cast<size_t>(f.next); p < n.properties.size(); ++p) {
        if (n.properties[p].required) return false;
      }
    } else if (f.next < n.min_items) {
      return false;
    }
    stack.pop();
    ValueDone();
    return true;
  }

  // Whether the open array may take another item.
  bool ArrayHasRoom() const {
    const Frame& f = stack.top();
    const int max_items = node(f.node).max_items;
    return max_items < 0 || f.next < max_items;
  }

  // The first byte of a key in the open object.
  bool StartKey(uint8_t c) {
    if (c != '"') return false;
    const Frame& f = stack.top();
    const Node& n = node(f.node);
    if (!n.closed) {
      lex.mode = Mode::kString;
      lex.string_is_key = true;
      lex.value_node = n.values;
      return true;
    }
    // Candidates: the properties from the next one up to the first required one.
    size_t last = static_cast<size_t>(f.next);
    while (last < n.properties.size() && !n.properties[last].required) ++last;
    if (static_cast<size_t>(f.next) >= n.properties.size()) return false;
    if (last == n.properties.size()) --last;
    lex.mode = Mode::kMatch;
    lex.match_is_key = true;
    lex.match_node = f.node;
    lex.match_first = f.next;
    lex.match_pos = 0;
    lex.match_alive = LowBits(last - static_cast<size_t>(f.next) + 1);
    return MatchByte(c) > 0;
  }

  const std::string& Candidate(int i) const {
    const Node& n = node(lex.match_node);
    return lex.match_is_key ? n.properties[static_cast<size_t>(lex.match_first + i)].key_literal
                            : n.literals[static_cast<size_t>(i)];
  }

  // Returns 1 if c continues a candidate, 0 if a candidate is complete and c follows it, -1 if
  // c is invalid here.
  int MatchByte(uint8_t c) {
    uint64_t alive = 0;
    int complete = -1;
    for (uint64_t bits = lex.match_alive; bits != 0; bits &= bits - 1) {
      const int i = __builtin_ctzll(bits);
      const std::string& text = Candidate(i);
      if (text.size() == lex.match_pos) complete = i;
      if (text.size() > lex.match_pos && static_cast<uint8_t>(text[lex.match_pos]) == c) {
        alive |= uint64_t{1} << i;
      }
    }
    if (alive != 0) {
      lex.match_alive = alive;
      ++lex.match_pos;
      return 1;
    }
    if (complete < 0) return -1;
    if (lex.match_is_key) {
      const int property = lex.match_first + complete;
      stack.top_mut().next = property + 1;
      lex.value_node = node(lex.match_node).properties[static_cast<size_t>(property)].schema;
      lex.mode = Mode::kColon;
    } else {
      SelectVariant(complete);
      ValueDone();
    }
    return 0;
  }

  // After literal `i` completed a value: when it was the tag (first property) of a tagged
  // union, the object goes on as the variant it names.
  void SelectVariant(int i) {
    if (stack.size() == 0 || stack.top().kind != '{' || stack.top().next != 1) return;
    const Node& n = node(stack.top().node);
    if (n.variants.empty() || n.properties[0].schema != lex.match_node) return;
    stack.top_mut().node = n.variants[static_cast<size_t>(i)];
  }

  // The first byte of a value of node value_node.
  bool StartValue(uint8_t c) {
    const int index = lex.value_node;
    const Node& n = node(index);
    if (!n.literals.empty()) {
      lex.mode = Mode::kMatch;
      lex.match_is_key = false;
      lex.match_node = index;
      lex.match_first = 0;
      lex.match_pos = 0;
      lex.match_alive = LowBits(n.literals.size());
      return MatchByte(c) > 0;
    }
    const uint8_t types = n.types;
    switch (c) {
      case '{':
        return (types & kJsonObject) != 0 && Open(index, '{');
      case '[':
        return (types & kJsonArray) != 0 && Open(index, '[');
      case '"':
        if ((types & kJsonString) == 0) return false;
        lex.mode = Mode::kString;
        lex.string_is_key = false;
        return true;
      default:
        break;
    }
    if (c == '-' || IsDigit(c)) {
      if ((types & (kJsonInteger | kJsonNumber)) == 0) return false;
      lex.mode = Mode::kNumber;
      lex.integer_only = (types & kJsonNumber) == 0;
      lex.number = c == '-' ? Number::kMinus : c == '0' ? Number::kZero : Number::kInt;
      lex.number_digits = c == '-' ? 0 : 1;
      return true;
    }
    for (uint8_t i = 0; i < kLiterals.size(); ++i) {
      if (c == static_cast<uint8_t>(kLiterals[i][0]) && (types & kLiteralTypes[i]) != 0) {
        lex.mode = Mode::kLiteral;
        lex.literal = i;
        lex.literal_pos = 1;
        return true;
      }
    }
    return false;
  }

  bool Step(uint8_t c) {
    switch (lex.mode) {
      case Mode::kString:
        if (!StringByte(lex, c)) return false;
        if (lex.mode == Mode::kAfterValue) ValueDone();  // a value string closed
        return true;
      case Mode::kNumber: {
        const Number part = lex.number;
        const int r = NumberByte(lex, c);
        if (r > 0 && IsDigit(c)) {
          lex.number_digits = lex.number == part ? lex.number_digits + 1 : 1;
          return lex.number_digits <=
                 (lex.number == Number::kExpDigits ? 3 : JsonPrefix::kMaxDigits);
        }
        if (r != 0) return r > 0;
        ValueDone();  // numbers are never the top-level value
        break;        // c is the byte after the number
      }
      case Mode::kMatch: {
        const int r = MatchByte(c);
        if (r != 0) return r > 0;
        break;  // c is the byte after the key or enum value
      }
      case Mode::kLiteral: {
        const std::string_view word = kLiterals[lex.literal];
        if (c != static_cast<uint8_t>(word[lex.literal_pos])) return false;
        if (++lex.literal_pos == word.size()) ValueDone();
        return true;
      }
      case Mode::kDone:
        return false;
      default:
        break;
    }
    if (IsWhitespace(c)) return Whitespace(c);
    lex.whitespace_run = 0;
    switch (lex.mode) {
      case Mode::kStart:
        lex.value_node = schema.root;
        return c == '{' && StartValue(c);
      case Mode::kObjectOpen:
        if (c == '}') return Close('{');
        return StartKey(c);
      case Mode::kKey:
        return StartKey(c);
      case Mode::kColon:
        if (c != ':') return false;
        lex.mode = Mode::kValue;
        return true;
      case Mode::kArrayOpen:
        if (c == ']') return Close('[');
        return ArrayHasRoom() && StartValue(c);
      case Mode::kValue:
        return StartValue(c);
      case Mode::kAfterValue:
        if (c == '}') return Close('{');
        if (c == ']') return Close('[');
        if (c != ',') return false;
        if (stack.top().kind == '{') {
          const Frame& f = stack.top();
          const Node& n = node(f.node);
          if (n.closed && static_cast<size_t>(f.next) >= n.properties.size()) return false;
          lex.mode = Mode::kKey;
          return true;
        }
        if (!ArrayHasRoom()) return false;
        lex.value_node = node(stack.top().node).items;
        lex.mode = Mode::kValue;
        return true;
      default:
        return false;
    }
  }

  // A space, or a newline and its indentation.
  bool Whitespace(uint8_t c) {
    if (lex.whitespace_run == 0) {
      if (c != ' ' && c != '\n') return false;
      lex.newline_run = c == '\n';
    } else if (!lex.newline_run || (c != ' ' && c != '\t') ||
               lex.whitespace_run > JsonPrefix::kMaxIndent) {
      return false;
    }
    ++lex.whitespace_run;
    return true;
  }

  bool FeedAll(std::string_view bytes) {
    for (const char c : bytes) {
      if (!Step(static_cast<uint8_t>(c))) return false;
    }
    return true;
  }
};

}  // namespace

JsonPrefix::JsonPrefix()
    : JsonPrefix(std::make_shared<const JsonSchema>(JsonSchema::AnyObject())) {}

JsonPrefix::JsonPrefix(std::shared_ptr<const JsonSchema> schema) : schema_(std::move(schema)) {}

bool JsonPrefix::CanFeed(std::string_view bytes) const {
  Lexer lex = lexer_;
  if (bytes.size() <= ProbeStack::kMaxBytes) {
    ProbeStack probe(&stack_);
    return Machine<ProbeStack>{*schema_, lex, probe}.FeedAll(bytes);
  }
  std::vector<Frame> copy = stack_;
  OwnedStack owned{&copy};
  return Machine<OwnedStack>{*schema_, lex, owned}.FeedAll(bytes);
}

bool JsonPrefix::Feed(std::string_view bytes) {
  Lexer lex = lexer_;
  std::vector<Frame> stack = stack_;
  OwnedStack owned{&stack};
  if (!Machine<OwnedStack>{*schema_, lex, owned}.FeedAll(bytes)) return false;
  lexer_ = lex;
  stack_ = std::move(stack);
  return true;
}

}  // namespace ts::sample
