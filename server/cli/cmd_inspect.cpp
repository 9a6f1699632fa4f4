// `ternserve-cli inspect FILE`: metadata and tensor table of a GGUF file.
#include <cstdio>
#include <iostream>
#include <map>

#include "engine/gguf/gguf.h"
#include "server/cli/commands.h"

namespace ts::cli {
namespace {

std::string Shape(const gguf::TensorInfo& t) {
  std::string s = "{";
  for (size_t k = 0; k < t.dims.size(); ++k) s += (k ? ", " : "") + std::to_string(t.dims[k]);
  return s + "}";
}

std::string HumanBytes(uint64_t n) {
  char buf[32];
  if (n >= (1ull << 30)) std::snprintf(buf, sizeof buf, "%.2f GiB", static_cast<double>(n) / (1ull << 30));
  else if (n >= (1ull << 20)) std::snprintf(buf, sizeof buf, "%.2f MiB", static_cast<double>(n) / (1ull << 20));
  else if (n >= 1024) std::snprintf(buf, sizeof buf, "%.1f KiB", static_cast<double>(n) / 1024);
  else std::snprintf(buf, sizeof buf, "%llu B", static_cast<unsigned long long>(n));
  return buf;
}

int RunInspect(const std::string& path, bool all_tensors) {
  const auto file = gguf::GgufFile::Open(path);
  std::printf("file:        %s\n", path.c_str());
  std::printf("GGUF:        version %u, alignment %llu, data at offset %llu, %s\n", file.version(),
              static_cast<unsigned long long>(file.alignment()),
              static_cast<unsigned long long>(file.data_offset()), HumanBytes(file.file_size()).c_str());
  std::printf("\nmetadata (%zu keys):\n", file.metadata().size());
  size_t key_width = 0;
  for (const auto& kv : file.metadata()) key_width = std::max(key_width, kv.key.size());
  for (const auto& kv : file.metadata()) {
    const std::string type = kv.value.type == gguf::ValueType::kArray
                                 ? std::string("arr[") + gguf::ValueTypeName(kv.value.elem_type) + "]"
                                 : gguf::ValueTypeName(kv.value.type);
    std::printf("  %-*s %-9s %s\n", static_cast<int>(key_width), kv.key.c_str(), type.c_str(),
                kv.value.ToDisplayString(6).c_str());
  }

  std::map<std::string, std::pair<size_t, uint64_t>> by_type;  // type -> (count, bytes)
  uint64_t total_bytes = 0, total_elements = 0;
  for (const auto& t : file.tensors()) {
    auto& entry = by_type[gguf::TypeName(t.type_id)];
    entry.first++;
    entry.second += t.n_bytes;
    total_bytes += t.n_bytes;
    total_elements += t.n_elements;
  }
  std::printf("\ntensors (%zu, %llu elements, %s):\n", file.tensors().size(),
              static_cast<unsigned long long>(total_elements), HumanBytes(total_bytes).c_str());
  std::printf("  %-36s %-7s %-20s %12s\n", "name", "type", "shape", "bytes");
  size_t shown = 0;
  for (const auto& t : file.tensors()) {
    // Repeated layers say little after the first two; --all shows every one.
    const bool deep_layer = t.name.rfind("blk.", 0) == 0 && std::atoi(t.name.c_str() + 4) >= 2;
    if (deep_layer && !all_tensors) continue;
    std::printf("  %-36s %-7s %-20s %12s\n", t.name.c_str(), gguf::TypeName(t.type_id).c_str(),
                Shape(t).c_str(), HumanBytes(t.n_bytes).c_str());
    ++shown;
  }
  if (shown < file.tensors().size()) {
    std::printf("  ... %zu more in layers >= 2 (use --all)\n", file.tensors().size() - shown);
  }
  std::printf("\nby type:\n");
  for (const auto& [type, entry] : by_type) {
    std::printf("  %-8s %5zu tensors %12s\n", type.c_str(), entry.first, HumanBytes(entry.second).c_str());
  }
  return 0;
}

}  // namespace

CommandFn AddInspectCommand(CLI::App& app) {
  auto* cmd = app.add_subcommand("inspect", "Print a GGUF file's metadata and tensor table");
  auto path = std::make_shared<std::string>();
  auto all = std::make_shared<bool>(false);
  cmd->add_option("file", *path, "GGUF file")->required();
  cmd->add_flag("--all", *all, "List the tensors of every layer");
  return [path, all] { return RunInspect(*path, *all); };
}

}  // namespace ts::cli
