#include <cstdlib>
#include <filesystem>
#include <sstream>
#include <stdexcept>

#include "server/cli/commands.h"

namespace ts::cli {

std::string DefaultModelPath() {
  if (const char* env = std::getenv("TERNSERVE_MODEL"); env && *env) return env;
  // The built-in model ships next to the sources and is installed beside the binary.
  for (const char* candidate : {TS_DEFAULT_MODEL_INSTALLED, TS_DEFAULT_MODEL_SOURCE}) {
    if (std::filesystem::exists(candidate)) return candidate;
  }
  return TS_DEFAULT_MODEL_SOURCE;
}

std::vector<int32_t> ParseTokenIds(const std::string& text) {
  std::vector<int32_t> ids;
  std::stringstream in(text);
  std::string item;
  while (std::getline(in, item, ',')) {
    try {
      size_t used = 0;
      const long v = std::stol(item, &used);
      if (used != item.size() || v < 0 || v > INT32_MAX) throw std::invalid_argument(item);
      ids.push_back(static_cast<int32_t>(v));
    } catch (const std::exception&) {
      throw std::runtime_error("'" + item + "' is not a token id");
    }
  }
  return ids;
}

}  // namespace ts::cli
