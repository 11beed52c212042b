// Tests for chat templates: family detection, overrides, default system prompts, exact renderings.
//
// The expected strings were cross-checked against the families' Hugging Face Jinja templates rendered
// by jinja2 with HF's settings (trim_blocks, lstrip_blocks). The template texts below are short
// excerpts written for these tests; they carry each family's distinctive markers.
#include "chat_template.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace qe {
namespace {

// ---- Template excerpts ----------------------------------------------------------------------------

// SmolLM2-Instruct: injects its default system prompt; the newlines are real newlines in the GGUF.
constexpr std::string_view kSmolLM2 =
    "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}"
    "{{ '<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n' }}"
    "{% endif %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}";

// Qwen2.5-Instruct: the newlines are Jinja escapes (backslash, n) inside the string literals.
constexpr std::string_view kQwen25 =
    "{%- if messages[0]['role'] == 'system' %}"
    "{{- '<|im_start|>system\\n' + messages[0]['content'] + '<|im_end|>\\n' }}"
    "{%- else %}"
    "{{- '<|im_start|>system\\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\\n' }}"
    "{%- endif %}";

// Plain ChatML with no default system prompt.
constexpr std::string_view kChatML =
    "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + "
    "'<|im_end|>' + '\\n'}}{% endfor %}";

constexpr std::string_view kLlama2 =
    "{% if loop.index0 == 0 and system_message != false %}{% set content = '<<SYS>>\\n' + system_message + "
    "'\\n<</SYS>>\\n\\n' + message['content'] %}{% endif %}{% if message['role'] == 'user' %}"
    "{{ bos_token + '[INST] ' + content.strip() + ' [/INST]' }}{% endif %}";

constexpr std::string_view kLlama3 =
    "{% set content = '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n'+ "
    "message['content'] | trim + '<|eot_id|>' %}{% if loop.index0 == 0 %}{% set content = bos_token + content %}"
    "{% endif %}";

constexpr std::string_view kMistral =
    "{{ bos_token }}{% for message in messages %}{% if message['role'] == 'user' %}"
    "{{ '[INST] ' + message['content'] + ' [/INST]' }}{% elif message['role'] == 'assistant' %}"
    "{{ message['content'] + eos_token}}{% endif %}{% endfor %}";

constexpr std::string_view kPhi3 =
    "{% for message in messages %}{% if message['role'] == 'user' %}{{'<|user|>\\n' + message['content'] + "
    "'<|end|>\\n'}}{% endif %}{% endfor %}{% if add_generation_prompt %}{{ '<|assistant|>\\n' }}{% else %}"
    "{{ eos_token }}{% endif %}";

constexpr std::string_view kGemma =
    "{{ bos_token }}{% for message in messages %}{% if (message['role'] == 'assistant') %}"
    "{% set role = 'model' %}{% endif %}{{ '<start_of_turn>' + role + '\\n' + message['content'] | trim + "
    "'<end_of_turn>\\n' }}{% endfor %}";

constexpr std::string_view kZephyr =
    "{% for message in messages %}\n{% if message['role'] == 'user' %}\n{{ '<|user|>\\n' + message['content'] + "
    "eos_token }}\n{% endif %}\n{% if loop.last and add_generation_prompt %}\n{{ '<|assistant|>' }}\n{% endif %}";

// TinyLlama-Chat writes the Zephyr format with a literal </s> instead of eos_token.
constexpr std::string_view kTinyLlama =
    "{% if message['role'] == 'user' %}{{ '<|user|>\\n' + content + '</s>' + '<|assistant|>' }}{% endif %}";

// ---- Helpers --------------------------------------------------------------------------------------

ChatTemplate make(std::string_view name, std::string bos = "", std::string eos = "") {
  auto t = make_chat_template("", name, std::move(bos), std::move(eos));
  EXPECT_TRUE(t.is_ok()) << t.status().message();
  return *t;
}

std::string render(const ChatTemplate& t, const std::vector<ChatMessage>& m, bool gen) {
  auto r = apply_chat_template(t, m, gen);
  EXPECT_TRUE(r.is_ok()) << r.status().message();
  return r.is_ok() ? *r : std::string();
}

const std::vector<ChatMessage> kConversation = {
    {"system", "You are terse."}, {"user", "Hello!"}, {"assistant", "Hi there."}, {"user", "What is 2+2?"}};
const std::vector<ChatMessage> kSingle = {{"user", "Hello!"}};
// Surrounding whitespace shows which families strip content.
const std::vector<ChatMessage> kPadded = {{"system", " sys \n"}, {"user", "  hi \n"}, {"assistant", " yo "}, {"user", "q"}};

// ---- Names and detection --------------------------------------------------------------------------

TEST(ChatTemplate, NamesRoundTrip) {
  for (ChatFormat f : {ChatFormat::kChatML, ChatFormat::kLlama2, ChatFormat::kLlama3, ChatFormat::kMistral,
                       ChatFormat::kPhi3, ChatFormat::kGemma, ChatFormat::kZephyr}) {
    EXPECT_EQ(chat_format_from_name(chat_format_name(f)), f);
  }
  EXPECT_EQ(chat_format_from_name("ChatML"), ChatFormat::kChatML);
  EXPECT_EQ(chat_format_from_name("LLAMA3"), ChatFormat::kLlama3);
  EXPECT_FALSE(chat_format_from_name("vicuna").has_value());
  EXPECT_FALSE(chat_format_from_name("").has_value());
  EXPECT_EQ(chat_format_names(), "chatml, llama2, llama3, mistral, phi3, gemma, zephyr");
}

TEST(ChatTemplate, DetectsEachFamily) {
  const struct {
    std::string_view text;
    ChatFormat want;
  } cases[] = {
      {kSmolLM2, ChatFormat::kChatML}, {kQwen25, ChatFormat::kChatML}, {kChatML, ChatFormat::kChatML},
      {kLlama2, ChatFormat::kLlama2},  {kLlama3, ChatFormat::kLlama3}, {kMistral, ChatFormat::kMistral},
      {kPhi3, ChatFormat::kPhi3},      {kGemma, ChatFormat::kGemma},   {kZephyr, ChatFormat::kZephyr},
      {kTinyLlama, ChatFormat::kZephyr},
  };
  for (const auto& c : cases) {
    auto f = detect_chat_format(c.text);
    ASSERT_TRUE(f.is_ok()) << f.status().message();
    EXPECT_EQ(*f, c.want) << c.text;
  }
}

TEST(ChatTemplate, UnknownTemplateIsUnsupportedAndQuoted) {
  const std::string text =
      "{% for m in messages %}### Instruction:\n{{ m['content'] }}\n### Response:\n{% endfor %} and a long tail";
  auto f = detect_chat_format(text);
  ASSERT_FALSE(f.is_ok());
  EXPECT_EQ(f.status().code(), Code::kUnsupported);
  const std::string msg = f.status().message();
  // The first 60 characters, newlines shown as \n, then an ellipsis.
  EXPECT_NE(msg.find("\"{% for m in messages %}### Instruction:\\n{{ m['content'] }}\\n#...\""), std::string::npos)
      << msg;
  EXPECT_NE(msg.find("--chat-template"), std::string::npos) << msg;

  // Phi-4 looks like ChatML but separates role and content with <|im_sep|>.
  auto phi4 = detect_chat_format("{{'<|im_start|>user<|im_sep|>' + message['content'] + '<|im_end|>'}}");
  ASSERT_FALSE(phi4.is_ok());
  EXPECT_EQ(phi4.status().code(), Code::kUnsupported);
}

// ---- make_chat_template ---------------------------------------------------------------------------

TEST(ChatTemplate, OverrideAndMissingTemplate) {
  auto t = make_chat_template(kChatML, std::string_view("llama3"), "", "");
  ASSERT_TRUE(t.is_ok());
  EXPECT_EQ(t->format, ChatFormat::kLlama3);
  EXPECT_EQ(t->bos_text, "<|begin_of_text|>");

  auto bad = make_chat_template(kChatML, std::string_view("alpaca"), "", "");
  ASSERT_FALSE(bad.is_ok());
  EXPECT_EQ(bad.status().code(), Code::kInvalidArgument);
  EXPECT_NE(bad.status().message().find("'alpaca'"), std::string::npos);
  EXPECT_NE(bad.status().message().find("chatml, llama2"), std::string::npos);

  auto none = make_chat_template("", std::nullopt, "<s>", "</s>");
  ASSERT_FALSE(none.is_ok());
  EXPECT_EQ(none.status().code(), Code::kInvalidArgument);
  EXPECT_NE(none.status().message().find("--chat-template"), std::string::npos);

  auto unknown = make_chat_template("{{ messages }}", std::nullopt, "", "");
  ASSERT_FALSE(unknown.is_ok());
  EXPECT_EQ(unknown.status().code(), Code::kUnsupported);
}

TEST(ChatTemplate, TokenTextsFromModelOrFamilyDefaults) {
  auto given = make_chat_template(kLlama2, std::nullopt, "<BOS>", "<EOS>");
  ASSERT_TRUE(given.is_ok());
  EXPECT_EQ(given->bos_text, "<BOS>");
  EXPECT_EQ(given->eos_text, "<EOS>");
  auto defaults = make_chat_template(kGemma, std::nullopt, "", "");
  ASSERT_TRUE(defaults.is_ok());
  EXPECT_EQ(defaults->bos_text, "<bos>");
}

TEST(ChatTemplate, ExtractsDefaultSystemPrompt) {
  auto smol = make_chat_template(kSmolLM2, std::nullopt, "<|im_start|>", "<|im_end|>");
  ASSERT_TRUE(smol.is_ok());
  EXPECT_EQ(smol->default_system, "You are a helpful AI assistant named SmolLM, trained by Hugging Face");

  auto qwen = make_chat_template(kQwen25, std::nullopt, "", "<|im_end|>");
  ASSERT_TRUE(qwen.is_ok());
  EXPECT_EQ(qwen->default_system, "You are Qwen, created by Alibaba Cloud. You are a helpful assistant.");

  auto plain = make_chat_template(kChatML, std::nullopt, "", "");
  ASSERT_TRUE(plain.is_ok());
  EXPECT_EQ(plain->default_system, "");
}

// ---- Rendering ------------------------------------------------------------------------------------

TEST(ChatTemplate, RendersSmolLM2WithDefaultSystem) {
  auto t = make_chat_template(kSmolLM2, std::nullopt, "<|im_start|>", "<|im_end|>");
  ASSERT_TRUE(t.is_ok());
  EXPECT_EQ(render(*t, kSingle, true),
            "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n"
            "<|im_start|>user\nHello!<|im_end|>\n<|im_start|>assistant\n");
  // A system message of the caller's replaces the default.
  EXPECT_EQ(render(*t, kConversation, true),
            "<|im_start|>system\nYou are terse.<|im_end|>\n<|im_start|>user\nHello!<|im_end|>\n"
            "<|im_start|>assistant\nHi there.<|im_end|>\n<|im_start|>user\nWhat is 2+2?<|im_end|>\n"
            "<|im_start|>assistant\n");
  // SmolLM2's BOS is <|im_start|>, so the rendered text already starts with it.
  EXPECT_TRUE(starts_with_bos(*t, render(*t, kSingle, true)));
}

TEST(ChatTemplate, RendersChatML) {
  const ChatTemplate t = make("chatml");
  EXPECT_EQ(render(t, kConversation, false),
            "<|im_start|>system\nYou are terse.<|im_end|>\n<|im_start|>user\nHello!<|im_end|>\n"
            "<|im_start|>assistant\nHi there.<|im_end|>\n<|im_start|>user\nWhat is 2+2?<|im_end|>\n");
  EXPECT_EQ(render(t, kSingle, true), "<|im_start|>user\nHello!<|im_end|>\n<|im_start|>assistant\n");
  EXPECT_FALSE(starts_with_bos(t, render(t, kSingle, true)));
}

TEST(ChatTemplate, RendersLlama2) {
  const ChatTemplate t = make("llama2", "<s>", "</s>");
  EXPECT_EQ(render(t, kConversation, true),
            "<s>[INST] <<SYS>>\nYou are terse.\n<</SYS>>\n\nHello! [/INST] Hi there. </s>"
            "<s>[INST] What is 2+2? [/INST]");
  EXPECT_EQ(render(t, kSingle, true), "<s>[INST] Hello! [/INST]");
  // content.strip() applies to the whole folded first turn, not to the system prompt alone.
  EXPECT_EQ(render(t, kPadded, false), "<s>[INST] <<SYS>>\n sys \n\n<</SYS>>\n\n  hi [/INST] yo </s><s>[INST] q [/INST]");
  EXPECT_TRUE(starts_with_bos(t, render(t, kSingle, true)));
}

TEST(ChatTemplate, RendersLlama3) {
  const ChatTemplate t = make("llama3", "<|begin_of_text|>", "<|eot_id|>");
  EXPECT_EQ(render(t, kConversation, true),
            "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nYou are terse.<|eot_id|>"
            "<|start_header_id|>user<|end_header_id|>\n\nHello!<|eot_id|>"
            "<|start_header_id|>assistant<|end_header_id|>\n\nHi there.<|eot_id|>"
            "<|start_header_id|>user<|end_header_id|>\n\nWhat is 2+2?<|eot_id|>"
            "<|start_header_id|>assistant<|end_header_id|>\n\n");
  EXPECT_EQ(render(t, kSingle, true),
            "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nHello!<|eot_id|>"
            "<|start_header_id|>assistant<|end_header_id|>\n\n");
  EXPECT_EQ(render(t, {{"user", "  hi \n"}}, false),
            "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nhi<|eot_id|>");
  EXPECT_TRUE(starts_with_bos(t, render(t, kSingle, true)));
}

TEST(ChatTemplate, RendersMistral) {
  const ChatTemplate t = make("mistral", "<s>", "</s>");
  EXPECT_EQ(render(t, kConversation, true), "<s>[INST] You are terse.\n\nHello! [/INST]Hi there.</s>[INST] What is 2+2? [/INST]");
  EXPECT_EQ(render(t, kSingle, true), "<s>[INST] Hello! [/INST]");
  EXPECT_EQ(render(t, kPadded, false), "<s>[INST]  sys \n\n\n  hi \n [/INST] yo </s>[INST] q [/INST]");
  EXPECT_TRUE(starts_with_bos(t, render(t, kSingle, true)));
}

TEST(ChatTemplate, RendersPhi3) {
  const ChatTemplate t = make("phi3", "<s>", "<|endoftext|>");
  EXPECT_EQ(render(t, kConversation, true),
            "<|system|>\nYou are terse.<|end|>\n<|user|>\nHello!<|end|>\n<|assistant|>\nHi there.<|end|>\n"
            "<|user|>\nWhat is 2+2?<|end|>\n<|assistant|>\n");
  EXPECT_EQ(render(t, kSingle, true), "<|user|>\nHello!<|end|>\n<|assistant|>\n");
  EXPECT_EQ(render(t, kSingle, false), "<|user|>\nHello!<|end|>\n<|endoftext|>");
  EXPECT_FALSE(starts_with_bos(t, render(t, kSingle, true)));  // the tokenizer adds BOS if it wants one
}

TEST(ChatTemplate, RendersGemma) {
  const ChatTemplate t = make("gemma", "<bos>", "<eos>");
  EXPECT_EQ(render(t, kConversation, true),
            "<bos><start_of_turn>user\nYou are terse.\n\nHello!<end_of_turn>\n"
            "<start_of_turn>model\nHi there.<end_of_turn>\n<start_of_turn>user\nWhat is 2+2?<end_of_turn>\n"
            "<start_of_turn>model\n");
  EXPECT_EQ(render(t, kSingle, true), "<bos><start_of_turn>user\nHello!<end_of_turn>\n<start_of_turn>model\n");
  EXPECT_EQ(render(t, kPadded, false),
            "<bos><start_of_turn>user\n sys \n\n\nhi<end_of_turn>\n<start_of_turn>model\nyo<end_of_turn>\n"
            "<start_of_turn>user\nq<end_of_turn>\n");
  EXPECT_TRUE(starts_with_bos(t, render(t, kSingle, true)));
}

TEST(ChatTemplate, RendersZephyr) {
  const ChatTemplate t = make("zephyr", "<s>", "</s>");
  EXPECT_EQ(render(t, kConversation, true),
            "<|system|>\nYou are terse.</s>\n<|user|>\nHello!</s>\n<|assistant|>\nHi there.</s>\n"
            "<|user|>\nWhat is 2+2?</s>\n<|assistant|>\n");
  EXPECT_EQ(render(t, kSingle, true), "<|user|>\nHello!</s>\n<|assistant|>\n");
  EXPECT_EQ(render(t, kSingle, false), "<|user|>\nHello!</s>\n");
  EXPECT_FALSE(starts_with_bos(t, render(t, kSingle, true)));
}

// ---- Rejections -----------------------------------------------------------------------------------

TEST(ChatTemplate, RejectsUnknownRolesAndBadOrder) {
  const auto expect_invalid = [](std::string_view name, const std::vector<ChatMessage>& m, std::string_view needle) {
    auto r = apply_chat_template(make(name), m, true);
    ASSERT_FALSE(r.is_ok()) << name;
    EXPECT_EQ(r.status().code(), Code::kInvalidArgument);
    EXPECT_NE(r.status().message().find(needle), std::string::npos) << r.status().message();
  };
  expect_invalid("chatml", {{"user", "a"}, {"tool", "b"}}, "role 'tool'");
  expect_invalid("llama3", {{"User", "a"}}, "role 'User'");
  expect_invalid("chatml", {}, "no messages");
  expect_invalid("llama2", {{"user", "a"}, {"user", "b"}}, "message 1 has role 'user'");
  expect_invalid("llama2", {{"assistant", "a"}}, "alternating user/assistant");
  expect_invalid("mistral", {{"user", "a"}, {"system", "b"}}, "message 1 has role 'system'");
  expect_invalid("gemma", {{"system", "s"}, {"assistant", "a"}}, "message 1 has role 'assistant'");
  // Free-order families accept any sequence of known roles.
  EXPECT_TRUE(apply_chat_template(make("phi3"), std::vector<ChatMessage>{{"user", "a"}, {"user", "b"}}, true).is_ok());
}

}  // namespace
}  // namespace qe
