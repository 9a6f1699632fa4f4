// ternserve-cli: offline tools around the engine (inspect, tokenize, generate,
// bench, synth, perplexity).
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <exception>
#include <vector>

#include "server/cli/commands.h"

int main(int argc, char** argv) {
  CLI::App app{"ternserve-cli: tools for ternary GGUF models"};
  app.require_subcommand(1);
  spdlog::set_default_logger(spdlog::stderr_color_mt("ternserve-cli"));
  spdlog::set_pattern("[%H:%M:%S.%e] [%^%l%$] %v");

  std::vector<std::pair<CLI::App*, ts::cli::CommandFn>> commands;
  auto add = [&](ts::cli::CommandFn (*adder)(CLI::App&)) {
    const size_t before = app.get_subcommands({}).size();
    ts::cli::CommandFn fn = adder(app);
    commands.emplace_back(app.get_subcommands({})[before], std::move(fn));
  };
  add(ts::cli::AddInspectCommand);
  add(ts::cli::AddTokenizeCommand);
  add(ts::cli::AddGenerateCommand);
  add(ts::cli::AddLogitsCommand);
  add(ts::cli::AddSynthCommand);
  add(ts::cli::AddPerplexityCommand);
  add(ts::cli::AddBenchCommand);
  add(ts::cli::AddKvEvalCommand);

  CLI11_PARSE(app, argc, argv);
  try {
    for (auto& [sub, fn] : commands) {
      if (sub->parsed()) return fn();
    }
  } catch (const std::exception& e) {
    spdlog::error("{}", e.what());
    return 1;
  }
  return 1;
}
