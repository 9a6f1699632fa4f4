#include "engine/model/model.h"
#include "server/cli/commands.h"

namespace ts::cli {

std::unique_ptr<model::Model> LoadModel(const std::string& path, const std::string& head) {
  return model::Model::Load({path.empty() ? DefaultModelPath() : path, model::ParseHeadPrecision(head)});
}

}  // namespace ts::cli
