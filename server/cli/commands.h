// ternserve-cli subcommands. Each Add*Command registers its options on the app
// and returns the function that runs it (exit code). Output shapes named in the
// issues are contracts that outside tools parse.
#pragma once

#include <CLI/CLI.hpp>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace ts::model {
struct Model;
}

namespace ts::cli {

using CommandFn = std::function<int()>;

CommandFn AddInspectCommand(CLI::App& app);
CommandFn AddTokenizeCommand(CLI::App& app);
CommandFn AddGenerateCommand(CLI::App& app);
CommandFn AddLogitsCommand(CLI::App& app);
CommandFn AddSynthCommand(CLI::App& app);
CommandFn AddPerplexityCommand(CLI::App& app);
CommandFn AddBenchCommand(CLI::App& app);
CommandFn AddKvEvalCommand(CLI::App& app);

// The model used when no -m/--model is given (the built-in trained model).
std::string DefaultModelPath();

// Loads `path` (the built-in model when empty) with the head stored as `head`
// ("auto", "f32", "f16", "q8", "q4").
std::unique_ptr<model::Model> LoadModel(const std::string& path, const std::string& head);

// Parses "1,2,3" into token ids; throws std::runtime_error naming the bad item.
std::vector<int32_t> ParseTokenIds(const std::string& text);

}  // namespace ts::cli
