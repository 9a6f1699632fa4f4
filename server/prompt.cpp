#include "server/prompt.h"

#include "server/api_error.h"

namespace ts::server {

std::vector<int32_t> ChatPromptIds(const tokenizer::Tokenizer& tok, tokenizer::ChatFamily family,
                                   const std::vector<tokenizer::ChatMessage>& messages,
                                   const std::string& reply_prefix) {
  std::vector<int32_t> ids =
      tokenizer::EncodeChat(tok, tokenizer::RenderChat(family, messages, true));
  if (!reply_prefix.empty()) {
    const std::vector<int32_t> prefix =
        tok.Encode(reply_prefix, /*add_bos=*/false, /*parse_special=*/false);
    ids.insert(ids.end(), prefix.begin(), prefix.end());
  }
  return ids;
}

std::vector<std::vector<int32_t>> CompletionPromptIds(const tokenizer::Tokenizer& tok,
                                                      const std::vector<PromptInput>& prompts,
                                                      std::vector<std::string>* echo_texts) {
  std::vector<std::vector<int32_t>> out;
  for (const PromptInput& p : prompts) {
    if (const auto* text = std::get_if<std::string>(&p)) {
      out.push_back(tok.Encode(*text, tok.add_bos_default(), /*parse_special=*/false));
      if (echo_texts) echo_texts->push_back(*text);
    } else {
      const auto& ids = std::get<std::vector<int32_t>>(p);
      if (tok.n_vocab() > 0) {
        for (int32_t id : ids) {
          if (id < 0 || id >= tok.n_vocab()) {
            throw BadRequest("'prompt' holds token id " + std::to_string(id) +
                                 " outside this model's vocabulary",
                             "prompt");
          }
        }
      }
      out.push_back(ids);
      if (echo_texts) echo_texts->push_back(tok.Decode(ids));
    }
  }
  return out;
}

void CheckPromptFits(size_t prompt_tokens, int max_tokens, int ctx_size, const std::string& param) {
  if (prompt_tokens == 0) throw BadRequest("the prompt is empty", param);
  const size_t ctx = static_cast<size_t>(ctx_size);
  if (ctx_size > 0 && prompt_tokens >= ctx) {
    throw BadRequest("This model's maximum context length is " + std::to_string(ctx_size) +
                         " tokens. However, your prompt is " + std::to_string(prompt_tokens) +
                         " tokens, leaving no room for the completion.",
                     param, "context_length_exceeded");
  }
  if (ctx_size > 0 && max_tokens > 0 && prompt_tokens + static_cast<size_t>(max_tokens) > ctx) {
    throw BadRequest("This model's maximum context length is " + std::to_string(ctx_size) +
                         " tokens. However, you requested " +
                         std::to_string(prompt_tokens + static_cast<size_t>(max_tokens)) +
                         " tokens (" + std::to_string(prompt_tokens) + " in the prompt, " +
                         std::to_string(max_tokens) + " for the completion).",
                     "max_tokens", "context_length_exceeded");
  }
}

}  // namespace ts::server
