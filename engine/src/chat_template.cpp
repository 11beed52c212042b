// Chat templates: family detection from Jinja text, default-system extraction, per-family rendering.
#include "chat_template.h"

#include <array>
#include <string>
#include <utility>
#include <vector>

namespace qe {
namespace {

struct FormatInfo {
  ChatFormat format;
  std::string_view name;
  std::string_view default_bos;  // written by the template itself, if at all
  std::string_view default_eos;
};

// One row per family, in enum order.
constexpr std::array<FormatInfo, 7> kFormats = {{
    {ChatFormat::kChatML, "chatml", "", ""},
    {ChatFormat::kLlama2, "llama2", "<s>", "</s>"},
    {ChatFormat::kLlama3, "llama3", "<|begin_of_text|>", "<|eot_id|>"},
    {ChatFormat::kMistral, "mistral", "<s>", "</s>"},
    {ChatFormat::kPhi3, "phi3", "<s>", "<|endoftext|>"},
    {ChatFormat::kGemma, "gemma", "<bos>", "<eos>"},
    {ChatFormat::kZephyr, "zephyr", "<s>", "</s>"},
}};

const FormatInfo& info(ChatFormat f) {
  const auto& row = kFormats[static_cast<size_t>(f)];
  QE_CHECK(row.format == f);
  return row;
}

bool contains(std::string_view text, std::string_view needle) { return text.find(needle) != std::string_view::npos; }

char ascii_lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

// Python's str.strip() for the ASCII range: space, \t \n \v \f \r and the separators \x1c-\x1f.
bool is_space(char c) { return c == ' ' || (c >= '\t' && c <= '\r') || (c >= '\x1c' && c <= '\x1f'); }

std::string_view strip(std::string_view s) {
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  return s;
}

// The first `n` characters with newlines shown as \n, for error messages.
std::string excerpt(std::string_view text, size_t n = 60) {
  std::string out;
  for (char c : text.substr(0, n)) {
    if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  if (text.size() > n) out += "...";
  return out;
}

// A ChatML template that embeds a default system prompt writes it as a literal right after
// "<|im_start|>system" and a newline (a real one, or the two characters \n inside a Jinja string),
// up to "<|im_end|>". A capture holding quotes or braces is a Jinja expression (e.g. the branch
// that writes messages[0]['content']) and is skipped. Returns "" when there is none.
std::string extract_chatml_default_system(std::string_view text) {
  constexpr std::string_view kOpen = "<|im_start|>system";
  constexpr std::string_view kClose = "<|im_end|>";
  for (size_t at = text.find(kOpen); at != std::string_view::npos; at = text.find(kOpen, at + 1)) {
    std::string_view rest = text.substr(at + kOpen.size());
    if (rest.starts_with("\\n")) {
      rest.remove_prefix(2);
    } else if (rest.starts_with("\n")) {
      rest.remove_prefix(1);
    } else {
      continue;
    }
    const size_t end = rest.find(kClose);
    if (end == std::string_view::npos) continue;
    const std::string_view raw = rest.substr(0, end);
    if (raw.empty() || raw.find_first_of("'\"{}") != std::string_view::npos) continue;
    // Undo the Jinja string escapes a prompt could plausibly contain.
    std::string out;
    for (size_t i = 0; i < raw.size(); ++i) {
      if (raw[i] == '\\' && i + 1 < raw.size()) {
        const char e = raw[i + 1];
        if (e == 'n' || e == 't' || e == '\\') {
          out += e == 'n' ? '\n' : e == 't' ? '\t' : '\\';
          ++i;
          continue;
        }
      }
      out += raw[i];
    }
    return out;
  }
  return {};
}

enum class Role { kSystem, kUser, kAssistant };

Result<Role> parse_role(const ChatMessage& m, size_t index, ChatFormat f) {
  if (m.role == "system") return Role::kSystem;
  if (m.role == "user") return Role::kUser;
  if (m.role == "assistant") return Role::kAssistant;
  return error(Code::kInvalidArgument, "chat message " + std::to_string(index) + " has role '" + m.role + "'; the " +
                                           std::string(chat_format_name(f)) +
                                           " template accepts only system, user and assistant");
}

// The parsed conversation: roles checked, plus the leading system prompt split off for the families
// that fold it into the first user turn.
struct Conversation {
  std::vector<Role> roles;                 // one per message
  std::optional<std::string_view> system;  // content of the leading system message, if any
  size_t first = 0;                        // first message after the leading system message
};

Result<Conversation> parse(const ChatTemplate& t, std::span<const ChatMessage> messages, bool alternating) {
  if (messages.empty()) return error(Code::kInvalidArgument, "the chat has no messages to render");
  Conversation c;
  for (size_t i = 0; i < messages.size(); ++i) {
    auto role = parse_role(messages[i], i, t.format);
    if (!role) return role.status();
    c.roles.push_back(*role);
  }
  if (c.roles[0] == Role::kSystem) {
    c.system = messages[0].content;
    c.first = 1;
  }
  if (!alternating) return c;
  // Families with no system role of their own: after the optional leading system message the turns
  // must go user, assistant, user, ... as their HF templates enforce with raise_exception.
  for (size_t i = c.first; i < messages.size(); ++i) {
    const Role want = (i - c.first) % 2 == 0 ? Role::kUser : Role::kAssistant;
    if (c.roles[i] != want) {
      return error(Code::kInvalidArgument,
                   "chat message " + std::to_string(i) + " has role '" + messages[i].role + "' but the " +
                       std::string(chat_format_name(t.format)) +
                       " template needs an optional leading system message, then alternating user/assistant "
                       "turns starting with user");
    }
  }
  return c;
}

// <|im_start|>role\ncontent<|im_end|>\n per message (SmolLM2, Qwen2.5 and others).
std::string render_chatml(std::span<const ChatMessage> m, bool gen) {
  std::string out;
  for (const ChatMessage& msg : m) out += "<|im_start|>" + msg.role + "\n" + msg.content + "<|im_end|>\n";
  if (gen) out += "<|im_start|>assistant\n";
  return out;
}

// <s>[INST] <<SYS>>\nsys\n<</SYS>>\n\nuser [/INST] answer </s><s>[INST] user [/INST]
std::string render_llama2(const ChatTemplate& t, const Conversation& c, std::span<const ChatMessage> m) {
  std::string out;
  for (size_t i = c.first; i < m.size(); ++i) {
    if (c.roles[i] == Role::kUser) {
      std::string content;
      if (i == c.first && c.system) content = "<<SYS>>\n" + std::string(*c.system) + "\n<</SYS>>\n\n";
      content += m[i].content;
      out += t.bos_text + "[INST] " + std::string(strip(content)) + " [/INST]";
    } else {
      out += " " + std::string(strip(m[i].content)) + " " + t.eos_text;
    }
  }
  return out;
}

// <|begin_of_text|><|start_header_id|>role<|end_header_id|>\n\ncontent<|eot_id|> per message.
std::string render_llama3(const ChatTemplate& t, std::span<const ChatMessage> m, bool gen) {
  std::string out = t.bos_text;
  for (const ChatMessage& msg : m) {
    out += "<|start_header_id|>" + msg.role + "<|end_header_id|>\n\n" + std::string(strip(msg.content)) + "<|eot_id|>";
  }
  if (gen) out += "<|start_header_id|>assistant<|end_header_id|>\n\n";
  return out;
}

// <s>[INST] user [/INST]answer</s>[INST] user [/INST]  (Mistral-7B-Instruct v0.1/v0.2)
std::string render_mistral(const ChatTemplate& t, const Conversation& c, std::span<const ChatMessage> m) {
  std::string out = t.bos_text;
  for (size_t i = c.first; i < m.size(); ++i) {
    if (c.roles[i] == Role::kUser) {
      out += "[INST] ";
      if (i == c.first && c.system) out += std::string(*c.system) + "\n\n";
      out += m[i].content + " [/INST]";
    } else {
      out += m[i].content + t.eos_text;
    }
  }
  return out;
}

// <|role|>\ncontent<|end|>\n per message, then <|assistant|>\n or EOS.
std::string render_phi3(const ChatTemplate& t, std::span<const ChatMessage> m, bool gen) {
  std::string out;
  for (const ChatMessage& msg : m) out += "<|" + msg.role + "|>\n" + msg.content + "<|end|>\n";
  out += gen ? std::string("<|assistant|>\n") : t.eos_text;
  return out;
}

// <bos><start_of_turn>user\ncontent<end_of_turn>\n<start_of_turn>model\n...
std::string render_gemma(const ChatTemplate& t, const Conversation& c, std::span<const ChatMessage> m, bool gen) {
  std::string out = t.bos_text;
  for (size_t i = c.first; i < m.size(); ++i) {
    out += c.roles[i] == Role::kUser ? "<start_of_turn>user\n" : "<start_of_turn>model\n";
    if (i == c.first && c.system) out += std::string(*c.system) + "\n\n";  // not trimmed, as in Gemma 3
    out += std::string(strip(m[i].content)) + "<end_of_turn>\n";
  }
  if (gen) out += "<start_of_turn>model\n";
  return out;
}

// <|role|>\ncontent</s>\n per message, then <|assistant|>\n.
std::string render_zephyr(const ChatTemplate& t, std::span<const ChatMessage> m, bool gen) {
  std::string out;
  for (const ChatMessage& msg : m) out += "<|" + msg.role + "|>\n" + msg.content + t.eos_text + "\n";
  if (gen) out += "<|assistant|>\n";
  return out;
}

}  // namespace

std::optional<ChatFormat> chat_format_from_name(std::string_view name) {
  for (const FormatInfo& row : kFormats) {
    if (row.name.size() != name.size()) continue;
    bool same = true;
    for (size_t i = 0; i < name.size() && same; ++i) same = ascii_lower(name[i]) == row.name[i];
    if (same) return row.format;
  }
  return std::nullopt;
}

std::string_view chat_format_name(ChatFormat format) { return info(format).name; }

std::string chat_format_names() {
  std::string out;
  for (const FormatInfo& row : kFormats) {
    if (!out.empty()) out += ", ";
    out += row.name;
  }
  return out;
}

Result<ChatFormat> detect_chat_format(std::string_view text) {
  // Order matters: several families share markers (<|user|> is Phi-3 and Zephyr, [INST] is Llama 2
  // and Mistral), so the marker that tells them apart is tested first.
  if (contains(text, "<|im_start|>")) {
    if (contains(text, "<|im_sep|>")) {
      return error(Code::kUnsupported, "chat template \"" + excerpt(text) +
                                           "\" is Phi-4's <|im_sep|> variant of ChatML, which qengine does not render; "
                                           "pass --chat-template with one of: " + chat_format_names());
    }
    return ChatFormat::kChatML;
  }
  if (contains(text, "<|start_header_id|>")) return ChatFormat::kLlama3;
  if (contains(text, "<start_of_turn>")) return ChatFormat::kGemma;
  if (contains(text, "<|user|>")) {
    if (contains(text, "<|end|>")) return ChatFormat::kPhi3;
    if (contains(text, "</s>") || contains(text, "eos_token")) return ChatFormat::kZephyr;
  }
  if (contains(text, "[INST]")) return contains(text, "<<SYS>>") ? ChatFormat::kLlama2 : ChatFormat::kMistral;
  return error(Code::kUnsupported, "unrecognized chat template \"" + excerpt(text) +
                                       "\"; pass --chat-template with one of: " + chat_format_names());
}

Result<ChatTemplate> make_chat_template(std::string_view template_text, std::optional<std::string_view> override_name,
                                        std::string bos_text, std::string eos_text) {
  ChatTemplate t;
  if (override_name) {
    const auto f = chat_format_from_name(*override_name);
    if (!f) {
      return error(Code::kInvalidArgument, "unknown chat template name '" + std::string(*override_name) +
                                               "'; expected one of: " + chat_format_names());
    }
    t.format = *f;
  } else if (template_text.empty()) {
    return error(Code::kInvalidArgument,
                 "the model has no tokenizer.chat_template; pass --chat-template with one of: " + chat_format_names());
  } else {
    auto f = detect_chat_format(template_text);
    if (!f) return f.status();
    t.format = *f;
  }
  if (t.format == ChatFormat::kChatML) t.default_system = extract_chatml_default_system(template_text);
  const FormatInfo& row = info(t.format);
  t.bos_text = bos_text.empty() ? std::string(row.default_bos) : std::move(bos_text);
  t.eos_text = eos_text.empty() ? std::string(row.default_eos) : std::move(eos_text);
  return t;
}

Result<std::string> apply_chat_template(const ChatTemplate& t, std::span<const ChatMessage> messages,
                                        bool add_generation_prompt) {
  // The template's default system prompt behaves like a system message the caller did not write
  // (SmolLM2 and Qwen2.5 inject theirs exactly when messages[0] is not a system message).
  if (messages.empty()) return error(Code::kInvalidArgument, "the chat has no messages to render");
  std::vector<ChatMessage> with_default;
  if (!t.default_system.empty() && messages[0].role != "system") {
    with_default.reserve(messages.size() + 1);
    with_default.push_back({"system", t.default_system});
    with_default.insert(with_default.end(), messages.begin(), messages.end());
    messages = with_default;
  }
  const bool alternating =
      t.format == ChatFormat::kLlama2 || t.format == ChatFormat::kMistral || t.format == ChatFormat::kGemma;
  auto conv = parse(t, messages, alternating);
  if (!conv) return conv.status();
  const Conversation& c = *conv;
  const bool gen = add_generation_prompt;
  switch (t.format) {
    case ChatFormat::kChatML: return render_chatml(messages, gen);
    case ChatFormat::kLlama2: return render_llama2(t, c, messages);
    case ChatFormat::kLlama3: return render_llama3(t, messages, gen);
    case ChatFormat::kMistral: return render_mistral(t, c, messages);
    case ChatFormat::kPhi3: return render_phi3(t, messages, gen);
    case ChatFormat::kGemma: return render_gemma(t, c, messages, gen);
    case ChatFormat::kZephyr: return render_zephyr(t, messages, gen);
  }
  QE_CHECK(false);
  return std::string();
}

bool starts_with_bos(const ChatTemplate& t, std::string_view rendered) {
  return !t.bos_text.empty() && rendered.starts_with(t.bos_text);
}

}  // namespace qe
