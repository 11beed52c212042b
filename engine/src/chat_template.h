// Chat templates: detect a model's chat family from its GGUF Jinja text and render conversations.
#pragma once

#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "status.h"

namespace qe {

// The chat families qengine renders natively (no Jinja interpreter): each one's Hugging Face template
// is reproduced byte for byte by apply_chat_template.
enum class ChatFormat { kChatML, kLlama2, kLlama3, kMistral, kPhi3, kGemma, kZephyr };

// role is "system", "user" or "assistant" (lower case, as in the OpenAI / HF message format).
struct ChatMessage {
  std::string role;
  std::string content;
};

// "chatml", "llama2", "llama3", "mistral", "phi3", "gemma", "zephyr" (ASCII case-insensitive).
std::optional<ChatFormat> chat_format_from_name(std::string_view name);
std::string_view chat_format_name(ChatFormat format);
// The names above joined by ", ", for error messages and --help.
std::string chat_format_names();

// Picks the family from the tokenizer.chat_template text by its distinctive markers, most specific
// first: <|im_start|> (ChatML), <|start_header_id|> (Llama 3), <start_of_turn> (Gemma), <|user|> with
// <|end|> (Phi-3), <|user|> with </s> or eos_token (Zephyr), [INST] with <<SYS>> (Llama 2), [INST]
// (Mistral). kUnsupported, quoting the template's first 60 characters, when nothing matches or the
// text is a known look-alike we do not render (Phi-4's <|im_sep|>).
Result<ChatFormat> detect_chat_format(std::string_view template_text);

struct ChatTemplate {
  ChatFormat format = ChatFormat::kChatML;
  // System prompt injected when the conversation has none. Extracted from ChatML templates that embed
  // one (SmolLM2: "You are a helpful AI assistant named SmolLM, trained by Hugging Face"; Qwen2.5:
  // "You are Qwen, created by Alibaba Cloud. You are a helpful assistant."), otherwise empty.
  std::string default_system;
  // Token texts the family's template writes itself: BOS for Llama 2 ("<s>" before every [INST]),
  // Mistral ("<s>"), Llama 3 ("<|begin_of_text|>"), Gemma ("<bos>"); EOS after assistant turns for
  // Llama 2 / Mistral / Zephyr ("</s>") and at the end of a Phi-3 prompt without generation prompt.
  std::string bos_text, eos_text;
};

// Builds the template for a model. override_name (e.g. from --chat-template) wins over detection;
// without it the family is detected from template_text. An empty template with no override is an
// error asking for --chat-template rather than a guess. bos_text / eos_text are the model's token
// texts; an empty one is replaced by the family's usual text (see ChatTemplate).
Result<ChatTemplate> make_chat_template(std::string_view template_text, std::optional<std::string_view> override_name,
                                        std::string bos_text, std::string eos_text);

// Renders messages exactly as the family's Hugging Face Jinja template would, with
// add_generation_prompt appending the assistant header where the family has one (Llama 2 and Mistral
// end a user turn with [/INST], which already is the cue). Per family:
//   ChatML   any role order; default_system first when messages[0] is not a system message.
//   Llama 3  any role order; BOS once; content trimmed.
//   Phi-3    any role order; without generation prompt the text ends with eos_text.
//   Zephyr   any role order; every turn ends with eos_text and a newline.
//   Llama 2  optional leading system, folded into the first [INST] as <<SYS>>\n...\n<</SYS>>\n\n;
//            then strictly user, assistant, user, ...; BOS before every [INST]; content stripped.
//   Mistral  optional leading system, prepended to the first user message with "\n\n" (the HF
//            template has no system role); then strictly alternating; BOS once.
//   Gemma    optional leading system, prepended to the first user turn with "\n\n" (as Gemma 3 does;
//            Gemma 1/2 templates reject it); assistant is written "model"; content trimmed.
// Trimming removes ASCII whitespace only (Python's str.strip also removes Unicode spaces).
// kInvalidArgument for an empty conversation, an unknown role, or a role order the family forbids.
Result<std::string> apply_chat_template(const ChatTemplate& tmpl, std::span<const ChatMessage> messages,
                                        bool add_generation_prompt);

// BOS contract: the rendered text is tokenized with special-token parsing, so a BOS written by the
// template becomes the BOS token. The caller adds the tokenizer's own BOS (when the model asks for
// one) only if this returns false, so the prompt never starts with two.
bool starts_with_bos(const ChatTemplate& tmpl, std::string_view rendered);

}  // namespace qe
