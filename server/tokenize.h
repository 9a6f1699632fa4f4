// POST /tokenize and /detokenize in the shapes llama-server and vLLM both answer (clients use
// them to count tokens before sending a request):
//   /tokenize   {"content" (llama-server) or "prompt" (vLLM): text, "add_special" /
//                "add_special_tokens": bool, "with_pieces": bool}, or {"messages": [...]} for
//               the chat prompt as the model sees it, template included
//            -> {"tokens": [ids] (with_pieces: [{"id", "piece"}]), "count", "max_model_len"}
//   /detokenize {"tokens": [ids]} -> {"content": text, "prompt": text}
#pragma once

#include <nlohmann/json.hpp>

#include "engine/tokenizer/chat_template.h"
#include "engine/tokenizer/tokenizer.h"

namespace ts::server {

// Each throws ApiError 400 naming the field for malformed requests.
nlohmann::json TokenizeResponse(const nlohmann::ordered_json& body, const tokenizer::Tokenizer& tok,
                                tokenizer::ChatFamily family, int ctx_size);
nlohmann::json DetokenizeResponse(const nlohmann::ordered_json& body,
                                  const tokenizer::Tokenizer& tok);

}  // namespace ts::server
