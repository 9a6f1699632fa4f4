#include "tests/unit/tokenizer/test_util.h"

#include <cstdio>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "engine/gguf/gguf.h"

namespace ts::tokenizer::testing {

std::string ReadFileOrDie(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path);
  std::ostringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

std::vector<std::string> SplitVocabTestInput(const std::string& raw) {
  const std::string sep = "\n__ggml_vocab_test__\n";
  std::vector<std::string> cases;
  size_t pos = 0;
  while (pos < raw.size()) {
    const size_t next = raw.find(sep, pos);
    if (next == std::string::npos) {
      cases.push_back(raw.substr(pos));
      break;
    }
    cases.push_back(raw.substr(pos, next - pos));
    pos = next + sep.size();
  }
  return cases;
}

std::vector<VocabCase> ReadVocabCases(const std::string& inp_path, const std::string& out_path) {
  const std::vector<std::string> texts = SplitVocabTestInput(ReadFileOrDie(inp_path));
  std::istringstream out(ReadFileOrDie(out_path));
  std::vector<VocabCase> cases;
  std::string line;
  for (const std::string& text : texts) {
    if (!std::getline(out, line))
      throw std::runtime_error(out_path + " has fewer lines than cases");
    VocabCase c{text, {}};
    std::istringstream ids(line);
    int64_t id = 0;
    while (ids >> id) c.ids.push_back(static_cast<int32_t>(id));
    cases.push_back(std::move(c));
  }
  return cases;
}

std::string FixturePath(std::string_view name) {
  return std::string(TS_FIXTURES_DIR) + "/tokenizer/" + std::string(name);
}

std::unique_ptr<Tokenizer> LoadFixtureTokenizer(std::string_view name) {
  const ts::gguf::GgufFile file = ts::gguf::GgufFile::Open(FixturePath(name));
  return Tokenizer::FromGguf(file);
}

std::string FormatIds(const std::vector<int32_t>& ids) {
  std::string s = "[";
  for (size_t i = 0; i < ids.size(); ++i) {
    if (i > 0) s += ", ";
    s += std::to_string(ids[i]);
  }
  return s + "]";
}

std::string Escape(std::string_view text) {
  std::string s;
  for (char c : text) {
    const auto b = static_cast<unsigned char>(c);
    if (c == '\n') {
      s += "\\n";
    } else if (c == '\t') {
      s += "\\t";
    } else if (c == '\r') {
      s += "\\r";
    } else if (c == '"' || c == '\\') {
      s += '\\';
      s += c;
    } else if (b < 0x20 || b == 0x7F) {
      char buf[8];
      std::snprintf(buf, sizeof(buf), "\\x%02X", b);
      s += buf;
    } else {
      s += c;  // UTF-8 passes through so scripts stay readable
    }
  }
  return s;
}

size_t CountAgreement(const Tokenizer& tok, const std::vector<VocabCase>& cases,
                      std::string* first_diff) {
  size_t agree = 0;
  first_diff->clear();
  for (size_t i = 0; i < cases.size(); ++i) {
    const std::vector<int32_t> got = tok.Encode(cases[i].text, false, false);
    if (got == cases[i].ids) {
      ++agree;
    } else if (first_diff->empty()) {
      *first_diff = "case " + std::to_string(i) + " \"" + Escape(cases[i].text) +
                    "\"\n  expected " + FormatIds(cases[i].ids) + "\n  got      " + FormatIds(got);
    }
  }
  return agree;
}

}  // namespace ts::tokenizer::testing
