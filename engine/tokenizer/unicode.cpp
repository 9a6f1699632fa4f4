#include "engine/tokenizer/unicode.h"

namespace ts::tokenizer {

Utf8Scan ScanUtf8(std::string_view s, size_t pos) {
  const auto byte = [&](size_t i) { return static_cast<uint8_t>(s[i]); };
  const uint8_t lead = byte(pos);
  if (lead < 0x80) return {Utf8Status::kValid, 1, lead};

  // Expected length and the allowed range of the second byte; the narrowed ranges
  // exclude overlongs (E0, F0), surrogates (ED) and code points above U+10FFFF (F4).
  size_t need = 0;
  uint8_t lo = 0x80, hi = 0xBF;
  uint32_t cp = 0;
  if (lead >= 0xC2 && lead <= 0xDF) {
    need = 2;
    cp = lead & 0x1Fu;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    need = 3;
    cp = lead & 0x0Fu;
    if (lead == 0xE0) lo = 0xA0;
    if (lead == 0xED) hi = 0x9F;
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    need = 4;
    cp = lead & 0x07u;
    if (lead == 0xF0) lo = 0x90;
    if (lead == 0xF4) hi = 0x8F;
  } else {
    return {Utf8Status::kInvalid, 1, 0};
  }
  for (size_t k = 1; k < need; ++k) {
    if (pos + k >= s.size()) return {Utf8Status::kTruncated, s.size() - pos, 0};
    const uint8_t c = byte(pos + k);
    const uint8_t min = k == 1 ? lo : 0x80;
    const uint8_t max = k == 1 ? hi : 0xBF;
    if (c < min || c > max) return {Utf8Status::kInvalid, k, 0};
    cp = (cp << 6) | (c & 0x3Fu);
  }
  return {Utf8Status::kValid, need, cp};
}

size_t FirstInvalidUtf8(std::string_view s) {
  for (size_t pos = 0; pos < s.size();) {
    const Utf8Scan scan = ScanUtf8(s, pos);
    if (scan.status != Utf8Status::kValid) return pos;
    pos += scan.length;
  }
  return s.size();
}

size_t AppendSanitizedUtf8(std::string_view s, bool final, std::string* out) {
  size_t pos = 0;
  while (pos < s.size()) {
    // Fast path: runs of ASCII.
    size_t run = pos;
    while (run < s.size() && static_cast<uint8_t>(s[run]) < 0x80) ++run;
    if (run > pos) {
      out->append(s.substr(pos, run - pos));
      pos = run;
      continue;
    }
    const Utf8Scan scan = ScanUtf8(s, pos);
    switch (scan.status) {
      case Utf8Status::kValid:
        out->append(s.substr(pos, scan.length));
        break;
      case Utf8Status::kInvalid:
        out->append(kReplacementUtf8);
        break;
      case Utf8Status::kTruncated:
        if (!final) return pos;
        out->append(kReplacementUtf8);
        break;
    }
    pos += scan.length;
  }
  return pos;
}

void AppendUtf8(uint32_t cp, std::string* out) {
  if (cp < 0x80) {
    out->push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out->push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out->push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out->push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

namespace {

// GPT-2's table: printable Latin-1 bytes map to themselves; the other 68 bytes
// (controls, space, DEL, NBSP, soft hyphen...) map in byte order to U+0100, U+0101, ...
std::array<uint32_t, 256> BuildByteToCodepoint() {
  std::array<uint32_t, 256> map{};
  uint32_t next = 256;
  for (uint32_t b = 0; b < 256; ++b) {
    const bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE);
    map[b] = printable ? b : next++;
  }
  return map;
}

const std::array<uint32_t, 256>& ByteToCodepoint() {
  static const std::array<uint32_t, 256> map = BuildByteToCodepoint();
  return map;
}

}  // namespace

const std::array<std::string, 256>& ByteToUnicode() {
  static const std::array<std::string, 256> table = [] {
    std::array<std::string, 256> t;
    for (int b = 0; b < 256; ++b) AppendUtf8(ByteToCodepoint()[b], &t[b]);
    return t;
  }();
  return table;
}

int UnicodeToByte(uint32_t codepoint) {
  // All mapped code points are below U+0144 (256 + 68).
  static const std::array<int16_t, 512> inverse = [] {
    std::array<int16_t, 512> inv;
    inv.fill(-1);
    for (int b = 0; b < 256; ++b) inv[ByteToCodepoint()[b]] = static_cast<int16_t>(b);
    return inv;
  }();
  return codepoint < inverse.size() ? inverse[codepoint] : -1;
}

}  // namespace ts::tokenizer
