// Backend over ts::Engine: the only file of the server that touches the model struct.
#include <chrono>

#include "engine/model/model.h"
#include "server/backend.h"

namespace ts::server {
namespace {

class EngineBackend final : public Backend {
 public:
  EngineBackend(std::unique_ptr<Engine> engine, std::string model_id) : engine_(std::move(engine)) {
    const model::Model& m = engine_->model();
    info_.id = std::move(model_id);
    info_.arch_name = m.config.arch_name;
    info_.chat_template = m.file.GetString("tokenizer.chat_template").value_or("");
    info_.ctx_size = engine_->ctx_size();
    info_.created = std::chrono::duration_cast<std::chrono::seconds>(
                        std::chrono::system_clock::now().time_since_epoch())
                        .count();
  }
  std::vector<std::shared_ptr<RequestHandle>> SubmitGroup(
      std::vector<GenerationRequest> requests) override {
    return engine_->SubmitGroup(std::move(requests));
  }
  EngineStats Stats() const override { return engine_->stats(); }
  const tokenizer::Tokenizer& Tokenizer() const override { return engine_->tokenizer(); }
  const ModelInfo& Info() const override { return info_; }
  void Shutdown(bool cancel_in_flight) override { engine_->Shutdown(cancel_in_flight); }

 private:
  std::unique_ptr<Engine> engine_;
  ModelInfo info_;
};

}  // namespace

std::unique_ptr<Backend> MakeEngineBackend(std::unique_ptr<Engine> engine, std::string model_id) {
  return std::make_unique<EngineBackend>(std::move(engine), std::move(model_id));
}

}  // namespace ts::server
