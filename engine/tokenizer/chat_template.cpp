// Chat families rendered as pieces; see chat_template.h for why there is no Jinja here.
#include "engine/tokenizer/chat_template.h"

#include <stdexcept>

namespace ts::tokenizer {
namespace {

using Kind = ChatPiece::Kind;

std::string_view Trim(std::string_view s) {
  const char* ws = " \t\r\n";
  const size_t first = s.find_first_not_of(ws);
  if (first == std::string_view::npos) return {};
  const size_t last = s.find_last_not_of(ws);
  return s.substr(first, last - first + 1);
}

bool Contains(std::string_view haystack, std::string_view needle) {
  return haystack.find(needle) != std::string_view::npos;
}

// Roles every family accepts after mapping; "developer" is OpenAI's newer "system".
std::string NormalizeRole(const std::string& role) {
  if (role == "system" || role == "developer") return "system";
  if (role == "user" || role == "assistant" || role == "tool") return role;
  throw std::invalid_argument("unknown chat role '" + role + "'");
}

class PieceWriter {
 public:
  void Template(std::string_view text) { Add(Kind::kTemplate, text); }
  void Special(std::string_view text) { pieces_.push_back({Kind::kSpecial, std::string(text)}); }
  void Content(std::string_view text) { Add(Kind::kContent, text); }
  void Bos() { pieces_.push_back({Kind::kBos, {}}); }
  void Eos() { pieces_.push_back({Kind::kEos, {}}); }
  std::vector<ChatPiece> Take() { return std::move(pieces_); }

 private:
  void Add(Kind kind, std::string_view text) {
    if (text.empty()) return;
    if (!pieces_.empty() && pieces_.back().kind == kind) {
      pieces_.back().text += text;
    } else {
      pieces_.push_back({kind, std::string(text)});
    }
  }
  std::vector<ChatPiece> pieces_;
};

// BitNet-b1.58-2B-4T, as trained (formats.md §1): the file's own template is a placeholder.
void RenderBitnet(const std::vector<ChatMessage>& messages, bool add_gen, PieceWriter& w) {
  w.Bos();
  for (const ChatMessage& m : messages) {
    const std::string role = NormalizeRole(m.role);
    w.Template(role == "system" ? "System: " : role == "assistant" ? "Assistant: " : "User: ");
    w.Content(Trim(m.content));
    w.Special("<|eot_id|>");
  }
  if (add_gen) w.Template("Assistant: ");
}

void RenderLlama3(const std::vector<ChatMessage>& messages, bool add_gen, PieceWriter& w) {
  w.Bos();
  for (const ChatMessage& m : messages) {
    std::string role = NormalizeRole(m.role);
    if (role == "tool") role = "ipython";
    w.Special("<|start_header_id|>");
    w.Template(role);
    w.Special("<|end_header_id|>");
    w.Template("\n\n");
    w.Content(Trim(m.content));
    w.Special("<|eot_id|>");
  }
  if (add_gen) {
    w.Special("<|start_header_id|>");
    w.Template("assistant");
    w.Special("<|end_header_id|>");
    w.Template("\n\n");
  }
}

void RenderChatml(const std::vector<ChatMessage>& messages, bool add_gen, PieceWriter& w) {
  for (const ChatMessage& m : messages) {
    w.Special("<|im_start|>");
    w.Template(NormalizeRole(m.role) + "\n");
    w.Content(m.content);
    w.Special("<|im_end|>");
    w.Template("\n");
  }
  if (add_gen) {
    w.Special("<|im_start|>");
    w.Template("assistant\n");
  }
}

// Meta's Llama 2 chat format: the system prompt goes inside the first [INST] block, each
// user turn opens with BOS, each assistant turn closes with EOS.
void RenderLlama2(const std::vector<ChatMessage>& messages, PieceWriter& w) {
  std::string system;
  for (const ChatMessage& m : messages) {
    if (NormalizeRole(m.role) == "system") {
      if (!system.empty()) system += "\n";
      system += Trim(m.content);
    }
  }
  bool system_pending = !system.empty();
  for (const ChatMessage& m : messages) {
    const std::string role = NormalizeRole(m.role);
    if (role == "system") continue;
    if (role == "assistant") {
      w.Template(" ");
      w.Content(Trim(m.content));
      w.Template(" ");
      w.Eos();
      continue;
    }
    w.Bos();
    w.Template("[INST] ");
    if (system_pending) {
      w.Template("<<SYS>>\n");
      w.Content(system);
      w.Template("\n<</SYS>>\n\n");
      system_pending = false;
    }
    w.Content(Trim(m.content));
    w.Template(" [/INST]");
  }
  if (system_pending) {  // a system prompt with no user turn still reaches the model
    w.Bos();
    w.Template("[INST] <<SYS>>\n");
    w.Content(system);
    w.Template("\n<</SYS>>\n\n [/INST]");
  }
}

void RenderFalcon3(const std::vector<ChatMessage>& messages, bool add_gen, PieceWriter& w) {
  for (const ChatMessage& m : messages) {
    std::string role = NormalizeRole(m.role);
    if (role == "tool") role = "user";
    w.Special("<|" + role + "|>");
    w.Template("\n");
    w.Content(m.content);
    w.Template("\n");
  }
  if (add_gen) {
    w.Special("<|assistant|>");
    w.Template("\n");
  }
}

}  // namespace

const char* ChatFamilyName(ChatFamily family) {
  switch (family) {
    case ChatFamily::kBitnet:
      return "bitnet";
    case ChatFamily::kLlama3:
      return "llama3";
    case ChatFamily::kChatml:
      return "chatml";
    case ChatFamily::kLlama2:
      return "llama2";
    case ChatFamily::kFalcon3:
      return "falcon3";
  }
  return "?";
}

std::optional<ChatFamily> ParseChatFamily(std::string_view name) {
  for (ChatFamily f : {ChatFamily::kBitnet, ChatFamily::kLlama3, ChatFamily::kChatml,
                       ChatFamily::kLlama2, ChatFamily::kFalcon3}) {
    if (name == ChatFamilyName(f)) return f;
  }
  return std::nullopt;
}

ChatFamilyChoice SelectChatFamily(std::string_view override_name, std::string_view arch_name,
                                  std::string_view template_text, const Tokenizer& tok) {
  if (!override_name.empty()) {
    const auto family = ParseChatFamily(override_name);
    if (!family) {
      throw std::invalid_argument("unknown chat template '" + std::string(override_name) +
                                  "' (bitnet, llama3, chatml, llama2, falcon3)");
    }
    return {*family, "override", false};
  }
  if (arch_name == "bitnet-b1.58" || arch_name == "bitnet-25") {
    return {ChatFamily::kBitnet, "architecture " + std::string(arch_name), false};
  }
  if (!template_text.empty()) {
    if (Contains(template_text, "<|start_header_id|>"))
      return {ChatFamily::kLlama3, "template", false};
    if (Contains(template_text, "<|im_start|>")) return {ChatFamily::kChatml, "template", false};
    if (Contains(template_text, "[INST]")) return {ChatFamily::kLlama2, "template", false};
    if (Contains(template_text, "<|assistant|>") && !Contains(template_text, "<|end|>")) {
      return {ChatFamily::kFalcon3, "template", false};
    }
    if (Contains(template_text, "BITNETAssistant") ||
        (Contains(template_text, "Assistant: ") && Contains(template_text, "<|eot_id|>"))) {
      return {ChatFamily::kBitnet, "template", false};
    }
  }
  if (tok.FindSpecialToken("<|start_header_id|>"))
    return {ChatFamily::kLlama3, "special tokens", false};
  if (tok.FindSpecialToken("<|im_start|>")) return {ChatFamily::kChatml, "special tokens", false};
  return {ChatFamily::kChatml,
          template_text.empty() ? "fallback (no chat template in the model)"
                                : "fallback (unrecognised chat template)",
          true};
}

std::vector<ChatPiece> RenderChat(ChatFamily family, const std::vector<ChatMessage>& messages,
                                  bool add_generation_prompt) {
  PieceWriter w;
  switch (family) {
    case ChatFamily::kBitnet:
      RenderBitnet(messages, add_generation_prompt, w);
      break;
    case ChatFamily::kLlama3:
      RenderLlama3(messages, add_generation_prompt, w);
      break;
    case ChatFamily::kChatml:
      RenderChatml(messages, add_generation_prompt, w);
      break;
    case ChatFamily::kLlama2:
      RenderLlama2(messages, w);
      break;
    case ChatFamily::kFalcon3:
      RenderFalcon3(messages, add_generation_prompt, w);
      break;
  }
  return w.Take();
}

std::string ChatPiecesToText(const std::vector<ChatPiece>& pieces, std::string_view bos_text,
                             std::string_view eos_text) {
  std::string out;
  for (const ChatPiece& p : pieces) {
    if (p.kind == Kind::kBos) {
      out += bos_text;
    } else if (p.kind == Kind::kEos) {
      out += eos_text;
    } else {
      out += p.text;
    }
  }
  return out;
}

std::vector<int32_t> EncodeChat(const Tokenizer& tok, const std::vector<ChatPiece>& pieces) {
  std::vector<int32_t> ids;
  std::string text;  // ordinary text since the last special token
  auto flush = [&] {
    if (text.empty()) return;
    const std::vector<int32_t> part = tok.Encode(text, /*add_bos=*/false, /*parse_special=*/false);
    ids.insert(ids.end(), part.begin(), part.end());
    text.clear();
  };
  auto push_id = [&](int32_t id) {
    flush();
    ids.push_back(id);
  };
  for (const ChatPiece& p : pieces) {
    switch (p.kind) {
      case Kind::kTemplate:
      case Kind::kContent:
        text += p.text;
        break;
      case Kind::kSpecial:
        if (const auto id = tok.FindSpecialToken(p.text)) {
          push_id(*id);
        } else {
          text += p.text;  // the vocabulary lacks the marker: keep the format as text
        }
        break;
      case Kind::kBos:
        if (tok.bos_id() >= 0) push_id(tok.bos_id());
        break;
      case Kind::kEos:
        if (tok.eos_id() >= 0) push_id(tok.eos_id());
        break;
    }
  }
  flush();
  return ids;
}

}  // namespace ts::tokenizer
