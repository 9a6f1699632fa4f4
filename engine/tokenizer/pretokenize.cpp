#include "engine/tokenizer/pretokenize.h"

#include <atomic>
#include <stdexcept>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <spdlog/spdlog.h>

#include "engine/tokenizer/unicode.h"

namespace ts::tokenizer {
namespace {

// The patterns are the ones HF tokenizers / llama.cpp use for each `pre` name.
constexpr std::string_view kGpt2Pattern =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";
constexpr std::string_view kLlama3Pattern =
    R"((?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
constexpr std::string_view kQwen2Pattern =
    R"((?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";

const std::vector<PreTokenizerSpec>& Specs() {
  static const std::vector<PreTokenizerSpec> specs = {
      {"default", {kGpt2Pattern}, false},     {"gpt-2", {kGpt2Pattern}, false},
      {"gpt2", {kGpt2Pattern}, false},        {"phi-2", {kGpt2Pattern}, false},
      {"llama-bpe", {kLlama3Pattern}, true},  {"llama3", {kLlama3Pattern}, true},
      {"llama-v3", {kLlama3Pattern}, true},   {"falcon3", {kLlama3Pattern}, true},
      {"smaug-bpe", {kLlama3Pattern}, false}, {"dbrx", {kLlama3Pattern}, false},
      {"qwen2", {kQwen2Pattern}, false},      {"deepseek-r1-qwen", {kQwen2Pattern}, false},
  };
  return specs;
}

// Unicode White_Space, as a character-class body.
constexpr std::string_view kWhiteSpaceClass =
    R"(\x{09}-\x{0D}\x{20}\x{85}\x{A0}\x{1680}\x{2000}-\x{200A}\x{2028}\x{2029}\x{202F}\x{205F}\x{3000})";

// Rewrites \s and \S to explicit White_Space classes (\S is not used inside classes).
std::string RewriteWhiteSpace(std::string_view pattern) {
  std::string out;
  bool in_class = false;
  for (size_t i = 0; i < pattern.size(); ++i) {
    const char c = pattern[i];
    if (c == '\\' && i + 1 < pattern.size()) {
      const char next = pattern[++i];
      if (next == 's') {
        out += in_class ? std::string(kWhiteSpaceClass) : "[" + std::string(kWhiteSpaceClass) + "]";
      } else if (next == 'S' && !in_class) {
        out += "[^" + std::string(kWhiteSpaceClass) + "]";
      } else {
        out += c;
        out += next;
      }
      continue;
    }
    if (c == '[' && !in_class)
      in_class = true;
    else if (c == ']' && in_class)
      in_class = false;
    out += c;
  }
  return out;
}

std::string Pcre2Message(int code) {
  PCRE2_UCHAR buffer[256];
  if (pcre2_get_error_message(code, buffer, sizeof(buffer)) < 0)
    return "error " + std::to_string(code);
  return reinterpret_cast<const char*>(buffer);
}

// Per-thread match state: match data and a JIT stack larger than PCRE2's 32 KiB default,
// so that long runs under `\s+(?!\S)` do not run out of stack.
struct MatchScratch {
  static constexpr size_t kJitStackStartBytes = 32 * 1024;
  static constexpr size_t kJitStackMaxBytes = 8 * 1024 * 1024;

  MatchScratch()
      : match_data(pcre2_match_data_create(16, nullptr)),
        context(pcre2_match_context_create(nullptr)),
        jit_stack(pcre2_jit_stack_create(kJitStackStartBytes, kJitStackMaxBytes, nullptr)) {
    if (context != nullptr && jit_stack != nullptr) {
      pcre2_jit_stack_assign(context, nullptr, jit_stack);
    }
  }
  ~MatchScratch() {
    pcre2_jit_stack_free(jit_stack);
    pcre2_match_context_free(context);
    pcre2_match_data_free(match_data);
  }
  MatchScratch(const MatchScratch&) = delete;
  MatchScratch& operator=(const MatchScratch&) = delete;

  pcre2_match_data* match_data;
  pcre2_match_context* context;
  pcre2_jit_stack* jit_stack;
};

MatchScratch& ThreadScratch() {
  thread_local MatchScratch scratch;
  if (scratch.match_data == nullptr) throw std::bad_alloc();
  return scratch;
}

size_t CharLength(std::string_view s, size_t pos) {
  const Utf8Scan scan = ScanUtf8(s, pos);
  return scan.status == Utf8Status::kValid ? scan.length : 1;
}

}  // namespace

const PreTokenizerSpec* FindPreTokenizerSpec(std::string_view name) {
  for (const PreTokenizerSpec& spec : Specs()) {
    if (spec.name == name) return &spec;
  }
  return nullptr;
}

const PreTokenizerSpec& DefaultPreTokenizerSpec() {
  return Specs().front();
}

struct PreTokenizer::Pattern {
  pcre2_code* code = nullptr;
  ~Pattern() { pcre2_code_free(code); }

  // Appends the matches of `text` (valid UTF-8) and the gaps between them to `out`.
  void Split(std::string_view text, std::vector<std::string_view>* out) const {
    MatchScratch& scratch = ThreadScratch();
    const auto* subject = reinterpret_cast<PCRE2_SPTR>(text.data());
    size_t gap_start = 0;
    size_t offset = 0;
    while (offset < text.size()) {
      const int rc = pcre2_match(code, subject, text.size(), offset, PCRE2_NO_UTF_CHECK,
                                 scratch.match_data, scratch.context);
      if (rc == PCRE2_ERROR_NOMATCH) break;
      size_t start = 0, end = 0;
      if (rc >= 0) {
        const PCRE2_SIZE* ovector = pcre2_get_ovector_pointer(scratch.match_data);
        start = ovector[0];
        end = ovector[1];
      } else {
        // Resource limits only (the patterns are fixed and the subject valid): make a
        // one-character word and carry on rather than fail the request.
        static std::atomic<bool> warned{false};
        if (!warned.exchange(true)) {
          spdlog::warn("tokenizer: pre-tokenizer regex failed ({}); splitting by character",
                       Pcre2Message(rc));
        }
        start = offset;
        end = offset + CharLength(text, offset);
      }
      if (end == start) end = start + CharLength(text, start);  // never loop on an empty match
      if (start > gap_start) out->push_back(text.substr(gap_start, start - gap_start));
      out->push_back(text.substr(start, end - start));
      gap_start = offset = end;
    }
    if (gap_start < text.size()) out->push_back(text.substr(gap_start));
  }
};

PreTokenizer::PreTokenizer(const PreTokenizerSpec& spec) {
  for (std::string_view source : spec.patterns) {
    const std::string rewritten = RewriteWhiteSpace(source);
    int error = 0;
    PCRE2_SIZE error_offset = 0;
    auto pattern = std::make_unique<Pattern>();
    pattern->code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(rewritten.data()), rewritten.size(),
                                  PCRE2_UTF | PCRE2_UCP, &error, &error_offset, nullptr);
    if (pattern->code == nullptr) {
      throw std::runtime_error("tokenizer: pre-tokenizer \"" + std::string(spec.name) +
                               "\": regex does not compile at offset " +
                               std::to_string(error_offset) + ": " + Pcre2Message(error));
    }
    const int jit_rc = pcre2_jit_compile(pattern->code, PCRE2_JIT_COMPLETE);
    if (jit_rc != 0) {
      // Still correct through the interpreter, only slower.
      spdlog::warn("tokenizer: PCRE2 JIT unavailable ({}); using the interpreter",
                   Pcre2Message(jit_rc));
    }
    patterns_.push_back(std::move(pattern));
  }
}

PreTokenizer::~PreTokenizer() = default;

void PreTokenizer::Split(std::string_view text, std::vector<std::string_view>* words) const {
  // Regexes run on maximal valid UTF-8 runs; each invalid byte is a word of its own.
  size_t run_start = 0;
  size_t pos = 0;
  while (pos < text.size()) {
    if (static_cast<uint8_t>(text[pos]) < 0x80) {
      ++pos;
      continue;
    }
    const Utf8Scan scan = ScanUtf8(text, pos);
    if (scan.status == Utf8Status::kValid) {
      pos += scan.length;
      continue;
    }
    if (pos > run_start) SplitValid(text.substr(run_start, pos - run_start), words);
    words->push_back(text.substr(pos, 1));
    run_start = ++pos;
  }
  if (pos > run_start) SplitValid(text.substr(run_start, pos - run_start), words);
}

void PreTokenizer::SplitValid(std::string_view text, std::vector<std::string_view>* words) const {
  if (patterns_.size() == 1) {
    patterns_[0]->Split(text, words);
    return;
  }
  std::vector<std::string_view> pieces{text};
  std::vector<std::string_view> next;
  for (const auto& pattern : patterns_) {
    next.clear();
    for (std::string_view piece : pieces) pattern->Split(piece, &next);
    pieces.swap(next);
  }
  words->insert(words->end(), pieces.begin(), pieces.end());
}

}  // namespace ts::tokenizer
