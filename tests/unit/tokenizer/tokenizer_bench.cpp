// Encode throughput per vocabulary (MB of UTF-8 text per second), not a test.
//
//   ts_tokenizer_bench [--text FILE] [--mb N] [--unique] [VOCAB.gguf ...]
//
// Without vocabularies: the fixture GPT-2 and Llama 2 SPM vocabs, plus the Llama 3 vocab
// that tokenizer_llama3_test writes into the build tree (if it has run). Without --text:
// the llama.cpp test strings of all three vocabs, repeated to N MB (default 4).
// Reports the median of 5 runs, for one Encode of the whole text and for 2 KiB prompts.
// Repeated text mostly hits the per-thread word cache; --unique appends a distinct
// letter suffix to every ASCII word so that each word is new (the uncached speed).
#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "engine/gguf/gguf.h"
#include "tests/unit/tokenizer/test_util.h"

using ts::tokenizer::Tokenizer;
namespace tt = ts::tokenizer::testing;

namespace {

constexpr int kRuns = 5;
constexpr size_t kPromptBytes = 2048;

double MedianSeconds(const std::function<void()>& fn) {
  std::vector<double> seconds;
  for (int i = 0; i < kRuns; ++i) {
    const auto start = std::chrono::steady_clock::now();
    fn();
    seconds.push_back(
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  }
  std::sort(seconds.begin(), seconds.end());
  return seconds[kRuns / 2];
}

// "the cat" -> "theab catac": every ASCII letter run gets a suffix never used before.
std::string MakeWordsUnique(const std::string& text) {
  std::string out;
  uint64_t counter = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    out += text[i];
    const bool letter = std::isalpha(static_cast<unsigned char>(text[i])) != 0;
    const bool next_letter =
        i + 1 < text.size() && std::isalpha(static_cast<unsigned char>(text[i + 1])) != 0;
    if (letter && !next_letter) {
      for (uint64_t n = ++counter; n > 0; n /= 26) out += static_cast<char>('a' + n % 26);
    }
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  std::string text_path;
  double megabytes = 4;
  bool unique = false;
  std::vector<std::string> vocabs;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--text") == 0 && i + 1 < argc) {
      text_path = argv[++i];
    } else if (std::strcmp(argv[i], "--unique") == 0) {
      unique = true;
    } else if (std::strcmp(argv[i], "--mb") == 0 && i + 1 < argc) {
      megabytes = std::stod(argv[++i]);
    } else {
      vocabs.emplace_back(argv[i]);
    }
  }
  if (vocabs.empty()) {
    vocabs = {tt::FixturePath("ggml-vocab-gpt-2.gguf"),
              tt::FixturePath("ggml-vocab-llama-spm.gguf")};
    if (std::filesystem::exists(TS_LLAMA3_GGUF)) vocabs.emplace_back(TS_LLAMA3_GGUF);
  }

  std::string seed;
  if (!text_path.empty()) {
    seed = tt::ReadFileOrDie(text_path);
  } else {
    for (const char* name : {"ggml-vocab-gpt-2.gguf.inp", "ggml-vocab-llama-spm.gguf.inp",
                             "ggml-vocab-llama-bpe.gguf.inp"}) {
      for (const std::string& c :
           tt::SplitVocabTestInput(tt::ReadFileOrDie(tt::FixturePath(name)))) {
        seed += c;
        seed += '\n';
      }
    }
  }
  std::string text;
  const auto target = static_cast<size_t>(megabytes * 1e6);
  if (!text_path.empty() && megabytes <= 0) {
    text = seed;
  } else {
    while (text.size() < target && !seed.empty()) text += seed;
  }
  if (unique) text = MakeWordsUnique(text);
  const double text_mb = static_cast<double>(text.size()) / 1e6;
  std::printf("text: %.2f MB (%s%s), median of %d runs\n", text_mb,
              text_path.empty() ? "llama.cpp test strings, repeated" : text_path.c_str(),
              unique ? ", every word made unique" : "", kRuns);

  for (const std::string& path : vocabs) {
    const ts::gguf::GgufFile file = ts::gguf::GgufFile::Open(path);
    const std::unique_ptr<Tokenizer> tok = Tokenizer::FromGguf(file);
    size_t n_tokens = 0;
    const double whole = MedianSeconds([&] { n_tokens = tok->Encode(text, false, false).size(); });
    const double prompts = MedianSeconds([&] {
      for (size_t pos = 0; pos < text.size(); pos += kPromptBytes) {
        tok->Encode(std::string_view(text).substr(pos, kPromptBytes), false, false);
      }
    });
    std::printf(
        "%-28s %-6s %-10s whole text %7.1f MB/s   2 KiB prompts %7.1f MB/s   %.2f bytes/token\n",
        std::filesystem::path(path).filename().c_str(), tok->model_name().c_str(),
        tok->pre_name().c_str(), text_mb / whole, text_mb / prompts,
        static_cast<double>(text.size()) / static_cast<double>(n_tokens));
  }
  return 0;
}
