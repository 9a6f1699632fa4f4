#include <cstdlib>
#include <filesystem>

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

}  // namespace ts::cli
