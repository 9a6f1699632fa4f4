// `ternserve-cli synth --shape (tiny|0.7b|2b4t) [--arch bitnet|bitnet-b1.58]
// [--type i2_s|tq2_0|tq1_0] [--vocab N] [--seed S] -o FILE`.
#include "engine/model/synth.h"
#include "server/cli/commands.h"

namespace ts::cli {

CommandFn AddSynthCommand(CLI::App& app) {
  auto* cmd = app.add_subcommand("synth", "Write a random ternary model of a real model's shape and layout");
  struct Options {
    model::SynthOptions synth;
    std::string type = "i2_s";
  };
  auto opt = std::make_shared<Options>();
  cmd->add_option("--shape", opt->synth.shape, "tiny, 0.7b (1bitLLM large) or 2b4t (BitNet-b1.58-2B-4T)")
      ->check(CLI::IsMember({"tiny", "0.7b", "2b4t"}));
  cmd->add_option("--arch", opt->synth.arch, "bitnet or bitnet-b1.58 (default: the shape's own)")
      ->check(CLI::IsMember({"bitnet", "bitnet-b1.58"}));
  cmd->add_option("--type", opt->type, "Ternary tensor type")->check(CLI::IsMember({"i2_s", "tq2_0", "tq1_0"}));
  cmd->add_option("--vocab", opt->synth.n_vocab, "Vocabulary size (default: the shape's own)")
      ->check(CLI::Range(260, 1 << 20));
  cmd->add_option("--seed", opt->synth.seed, "Random seed");
  cmd->add_option("-o,--output", opt->synth.output, "Output GGUF file")->required();
  return [opt] {
    opt->synth.type = model::ParseTernaryType(opt->type);
    model::WriteSynthModel(opt->synth);
    return 0;
  };
}

}  // namespace ts::cli
