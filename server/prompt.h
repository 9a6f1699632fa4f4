// Typed requests -> prompt token ids, with the context-length check OpenAI reports as
// `context_length_exceeded`.
#pragma once

#include <string>
#include <vector>

#include "engine/tokenizer/chat_template.h"
#include "server/request.h"

namespace ts::server {

// Renders `messages` in `family` and encodes them (special tokens from the template only),
// ending with the assistant header and then `reply_prefix` (text the reply continues).
std::vector<int32_t> ChatPromptIds(const tokenizer::Tokenizer& tok, tokenizer::ChatFamily family,
                                   const std::vector<tokenizer::ChatMessage>& messages,
                                   const std::string& reply_prefix = {});

// Encodes legacy prompts (text without special-token parsing, BOS per the vocabulary;
// token ids as given). `echo_texts`, when not null, receives each prompt's text.
std::vector<std::vector<int32_t>> CompletionPromptIds(const tokenizer::Tokenizer& tok,
                                                      const std::vector<PromptInput>& prompts,
                                                      std::vector<std::string>* echo_texts);

// Throws ApiError 400 (param `param`) for an empty prompt, and with code
// context_length_exceeded when prompt + requested tokens do not fit `ctx_size`.
void CheckPromptFits(size_t prompt_tokens, int max_tokens, int ctx_size, const std::string& param);

}  // namespace ts::server
