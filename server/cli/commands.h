// ternserve-cli subcommands. Each Add*Command registers its options on the app
// and returns the function that runs it (exit code). Output shapes named in the
// issues are contracts that outside tools parse.
#pragma once

#include <CLI/CLI.hpp>
#include <functional>

namespace ts::cli {

using CommandFn = std::function<int()>;

CommandFn AddInspectCommand(CLI::App& app);
CommandFn AddTokenizeCommand(CLI::App& app);
CommandFn AddGenerateCommand(CLI::App& app);

// The model used when no -m/--model is given (the built-in trained model).
std::string DefaultModelPath();

}  // namespace ts::cli
