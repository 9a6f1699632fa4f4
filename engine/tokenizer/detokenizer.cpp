// IncrementalDetokenizer: holds back the bytes of a character split across tokens.
#include "engine/tokenizer/tokenizer.h"
#include "engine/tokenizer/unicode.h"

namespace ts::tokenizer {

IncrementalDetokenizer::IncrementalDetokenizer(const Tokenizer& tok) : tok_(tok) {}

std::string IncrementalDetokenizer::Push(int32_t id) {
  std::string bytes = pending_ + tok_.TokenToPiece(id);  // throws before any state change
  std::string out;
  out.reserve(bytes.size());
  const size_t consumed = AppendSanitizedUtf8(bytes, /*final=*/false, &out);
  pending_.assign(bytes, consumed, std::string::npos);
  return out;
}

std::string IncrementalDetokenizer::Flush() {
  std::string out;
  AppendSanitizedUtf8(pending_, /*final=*/true, &out);
  pending_.clear();
  return out;
}

}  // namespace ts::tokenizer
