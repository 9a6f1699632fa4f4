// UTF-8 scanning and the GPT-2 byte <-> unicode-character mapping used by byte-level BPE.
// Validity follows Unicode (no overlongs, no surrogates, nothing above U+10FFFF); invalid
// input is replaced per "maximal subpart" (one U+FFFD per broken sequence, as browsers do).
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace ts::tokenizer {

inline constexpr uint32_t kReplacementChar = 0xFFFD;
inline constexpr std::string_view kReplacementUtf8 = "\xEF\xBF\xBD";

enum class Utf8Status { kValid, kInvalid, kTruncated };

struct Utf8Scan {
  Utf8Status status;
  // kValid: bytes of the character; kInvalid: bytes to replace by one U+FFFD (>= 1);
  // kTruncated: bytes left in the input, all a valid prefix of one character.
  size_t length;
  uint32_t codepoint;  // only for kValid
};

// Returns what starts at `s[pos]`; requires pos < s.size().
Utf8Scan ScanUtf8(std::string_view s, size_t pos);

// Returns the offset of the first byte of `s` that does not start a complete, valid character
// (s.size() when all of `s` is valid UTF-8).
size_t FirstInvalidUtf8(std::string_view s);

// Appends `s` to `out` as valid UTF-8 (invalid sequences -> U+FFFD). When `final` is
// false, a truncated character at the end is not consumed. Returns the bytes consumed.
size_t AppendSanitizedUtf8(std::string_view s, bool final, std::string* out);

void AppendUtf8(uint32_t codepoint, std::string* out);

// GPT-2's reversible map from bytes to printable characters: byte b -> the UTF-8 of
// the character the vocabulary uses for it (e.g. ' ' -> "Ġ", '\n' -> "Ċ").
const std::array<std::string, 256>& ByteToUnicode();
// The byte for one mapped character, or -1 if `codepoint` is not in the map.
int UnicodeToByte(uint32_t codepoint);

}  // namespace ts::tokenizer
