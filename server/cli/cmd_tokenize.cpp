// `ternserve-cli tokenize -m FILE (-p TEXT | -f TEXTFILE) [--special] [--pieces]`:
// prints the token ids as one JSON array on one line.
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "engine/gguf/gguf.h"
#include "engine/tokenizer/tokenizer.h"
#include "server/cli/commands.h"

namespace ts::cli {
namespace {

struct TokenizeOptions {
  std::string model;
  std::string prompt;
  std::string prompt_file;
  bool special = false;
  bool pieces = false;
};

int RunTokenize(const TokenizeOptions& opt) {
  std::string text = opt.prompt;
  if (!opt.prompt_file.empty()) {
    std::ifstream in(opt.prompt_file, std::ios::binary);
    if (!in) throw std::runtime_error("cannot read " + opt.prompt_file);
    std::ostringstream buf;
    buf << in.rdbuf();
    text = buf.str();  // byte for byte: no trailing-newline trimming
  }
  const auto file = gguf::GgufFile::Open(opt.model.empty() ? DefaultModelPath() : opt.model);
  const auto tok = tokenizer::Tokenizer::FromGguf(file);
  const auto ids = tok->Encode(text, tok->add_bos_default(), opt.special);
  nlohmann::json out = nlohmann::json::array();
  for (int32_t id : ids) {
    if (opt.pieces) {
      // Pieces may be partial UTF-8 (byte tokens): replace invalid bytes rather than fail.
      out.push_back({id, tok->TokenToPiece(id)});
    } else {
      out.push_back(id);
    }
  }
  std::cout << out.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
  return 0;
}

}  // namespace

CommandFn AddTokenizeCommand(CLI::App& app) {
  auto* cmd = app.add_subcommand("tokenize", "Print the token ids of a text as a JSON array");
  auto opt = std::make_shared<TokenizeOptions>();
  cmd->add_option("-m,--model", opt->model, "GGUF model or vocabulary file (default: built-in model)");
  auto* p = cmd->add_option("-p,--prompt", opt->prompt, "Text to tokenize");
  auto* f = cmd->add_option("-f,--file", opt->prompt_file, "File whose bytes are tokenized")->check(CLI::ExistingFile);
  p->excludes(f);
  cmd->add_flag("--special", opt->special, "Parse special-token text (e.g. <|eot_id|>) as special tokens");
  cmd->add_flag("--pieces", opt->pieces, "Print [id, piece] pairs instead of ids");
  cmd->callback([p, f] {
    if (p->count() + f->count() == 0) throw CLI::RequiredError("-p or -f");
  });
  return [opt] { return RunTokenize(*opt); };
}

}  // namespace ts::cli
