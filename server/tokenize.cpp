#include "server/tokenize.h"

#include <fmt/format.h>

#include <string>
#include <vector>

#include "engine/tokenizer/unicode.h"
#include "server/api_error.h"
#include "server/prompt.h"
#include "server/request.h"
#include "server/response.h"

namespace ts::server {
namespace {

using json = nlohmann::json;
using ordered_json = nlohmann::ordered_json;

// Returns the boolean field `name` (absent or null: fallback).
bool Flag(const ordered_json& body, const char* name, bool fallback) {
  const auto it = body.find(name);
  if (it == body.end() || it->is_null()) return fallback;
  if (!it->is_boolean()) throw BadRequest(fmt::format("'{}' must be a boolean", name), name);
  return it->get<bool>();
}

}  // namespace

json TokenizeResponse(const ordered_json& body, const tokenizer::Tokenizer& tok,
                      tokenizer::ChatFamily family, int ctx_size) {
  std::vector<int32_t> ids;
  if (body.contains("messages")) {
    // The whole chat request's checks apply; the prompt ends with the assistant's header.
    if (!Flag(body, "add_generation_prompt", true)) {
      throw BadRequest(
          "'add_generation_prompt': false is not supported; the count includes the "
          "assistant header the model sees before its reply",
          "add_generation_prompt");
    }
    ids =
        ChatPromptIds(tok, family, ParseChatRequest(body, tok.n_vocab(), RequestLimits{}).messages);
  } else {
    // llama-server says "content" and adds no BOS unless asked; vLLM says "prompt" and does.
    const bool vllm = !body.contains("content");
    const char* field = vllm ? "prompt" : "content";
    const auto text = body.find(field);
    if (text == body.end() || !text->is_string()) {
      throw BadRequest("'content' (or 'prompt', or 'messages') is required and must be a string",
                       field);
    }
    const bool add_special = Flag(body, vllm ? "add_special_tokens" : "add_special", vllm);
    // Special-token text counts as those tokens, as in both servers.
    ids = tok.Encode(text->get_ref<const std::string&>(), add_special && tok.add_bos_default(),
                     /*parse_special=*/true);
  }
  json tokens = json::array();
  const bool with_pieces = Flag(body, "with_pieces", false);
  for (const int32_t id : ids) {
    if (!with_pieces) {
      tokens.push_back(id);
      continue;
    }
    // A piece that is not valid UTF-8 on its own (part of a character) goes out as its bytes.
    const std::string piece = tok.TokenToPiece(id);
    const bool valid = tokenizer::FirstInvalidUtf8(piece) == piece.size();
    tokens.push_back({{"id", id}, {"piece", valid ? json(piece) : BytesArray(piece)}});
  }
  return {{"tokens", std::move(tokens)}, {"count", ids.size()}, {"max_model_len", ctx_size}};
}

json DetokenizeResponse(const ordered_json& body, const tokenizer::Tokenizer& tok) {
  const auto tokens = body.find("tokens");
  if (tokens == body.end() || !tokens->is_array()) {
    throw BadRequest("'tokens' is required and must be an array of token ids", "tokens");
  }
  std::vector<int32_t> ids;
  for (const ordered_json& t : *tokens) {
    if (!t.is_number_integer() || t.get<int64_t>() < 0 || t.get<int64_t>() >= tok.n_vocab()) {
      throw BadRequest(
          fmt::format("'tokens' holds {}, which is not a token id of this model (0..{})", t.dump(),
                      tok.n_vocab() - 1),
          "tokens");
    }
    ids.push_back(static_cast<int32_t>(t.get<int64_t>()));
  }
  const std::string text = tok.Decode(ids);  // valid UTF-8: broken sequences become U+FFFD
  return {{"content", text}, {"prompt", text}};
}

}  // namespace ts::server
