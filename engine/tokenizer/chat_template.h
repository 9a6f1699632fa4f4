// Chat templates: messages -> the token ids a chat model was trained on.
//
// A template is chosen by family (not by running the file's Jinja text): the file's
// `tokenizer.chat_template` and special tokens only tell us which family it is.
// Rendering keeps template text and user content apart so that special tokens are
// recognised in the template's own markers only: a user writing "<|eot_id|>" gets
// those characters, never the token.
//
// Not here: Jinja evaluation, tool calls, multimodal parts.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/tokenizer/tokenizer.h"

namespace ts::tokenizer {

enum class ChatFamily {
  kBitnet,   // BitNet-b1.58-2B-4T: "System: ..<|eot_id|>User: ..<|eot_id|>Assistant: "
  kLlama3,   // <|start_header_id|>role<|end_header_id|>\n\n..<|eot_id|>
  kChatml,   // <|im_start|>role\n..<|im_end|>\n
  kLlama2,   // <s>[INST] <<SYS>>\n..\n<</SYS>>\n\n.. [/INST] .. </s>
  kFalcon3,  // <|system|>\n..\n<|user|>\n..\n<|assistant|>\n
};

// "bitnet", "llama3", "chatml", "llama2", "falcon3".
const char* ChatFamilyName(ChatFamily family);
// Returns the family named `name` (as ChatFamilyName spells it), nullopt otherwise.
std::optional<ChatFamily> ParseChatFamily(std::string_view name);

struct ChatMessage {
  std::string role;     // system | developer | user | assistant | tool
  std::string content;  // plain text
};

struct ChatFamilyChoice {
  ChatFamily family = ChatFamily::kChatml;
  std::string reason;  // for the log: "override", "architecture bitnet-b1.58", "fallback", ...
  bool fallback = false;
};

// Returns the family for a model: `override_name` when non-empty (throws
// std::invalid_argument when it names no family), else the built-in BitNet format for
// the bitnet-b1.58 / bitnet-25 architectures (their embedded template is a converter
// placeholder), else detection from `template_text`, else from the vocabulary's special
// tokens, else ChatML as a fallback (fallback = true).
ChatFamilyChoice SelectChatFamily(std::string_view override_name, std::string_view arch_name,
                                  std::string_view template_text, const Tokenizer& tok);

// One piece of rendered chat.
struct ChatPiece {
  enum class Kind {
    kTemplate,  // template text without special tokens ("User: ")
    kSpecial,   // one special token of the template, by its text ("<|eot_id|>")
    kContent,   // message content: never parsed for special tokens
    kBos,       // the vocabulary's BOS / EOS id
    kEos,
  };
  Kind kind = Kind::kTemplate;
  std::string text;  // empty for kBos / kEos
};

// Returns the pieces of `messages` in `family`'s format; with `add_generation_prompt`
// the pieces end with the assistant header. Roles: "developer" is treated as
// "system", "tool" as "user"; throws std::invalid_argument for another role.
std::vector<ChatPiece> RenderChat(ChatFamily family, const std::vector<ChatMessage>& messages,
                                  bool add_generation_prompt);

// The rendered text (bos/eos written as `bos_text` / `eos_text`), for logs and tests.
std::string ChatPiecesToText(const std::vector<ChatPiece>& pieces, std::string_view bos_text,
                             std::string_view eos_text);

// Returns the ids of `pieces`: kSpecial pieces as their token id (as plain text when the
// vocabulary lacks them), all other text with parse_special = false, bos/eos as the
// vocabulary's ids (nothing when it has none). Text between two special tokens is
// encoded in one call, so template text and content next to it tokenize as in training.
// No BOS is added beyond the pieces' own.
std::vector<int32_t> EncodeChat(const Tokenizer& tok, const std::vector<ChatPiece>& pieces);

}  // namespace ts::tokenizer
