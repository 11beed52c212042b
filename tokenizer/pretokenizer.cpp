// Byte-level BPE pre-tokenizer: the regex list chosen by tokenizer.ggml.pre, run with PCRE2.
//
// The lists are the ones llama.cpp uses per pre-tokenizer type (which in turn come from each
// model's tokenizer.json). Where llama.cpp rewrote a pattern for std::regex (case-insensitive
// contractions spelled out, \p{Lu}... classes approximated with lookaheads) we use its rewritten
// form, because matching llama.cpp's ids is the goal, not matching the HF pattern.
#include "pretokenizer.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <atomic>
#include <cstdio>
#include <span>
#include <utility>

namespace qe::tok {

namespace {

// llama.cpp decides "whitespace" with the Unicode White_Space property, both in its hand-written
// splitters and (via a substitute character) in its std::regex path. PCRE2's \s under UCP is
// Z* + \t\n\v\f\r, which lacks U+0085; spell the class out so both agree exactly.
constexpr std::string_view kWhitespace =
    R"(\t-\r \x{85}\x{A0}\x{1680}\x{2000}-\x{200A}\x{2028}\x{2029}\x{202F}\x{205F}\x{3000})";

// Rewrites \s and \S outside/inside character classes into kWhitespace classes.
std::string expand_whitespace(std::string_view re) {
  std::string out;
  bool in_class = false;
  for (size_t i = 0; i < re.size(); ++i) {
    const char c = re[i];
    if (c == '\\' && i + 1 < re.size()) {
      const char n = re[i + 1];
      ++i;
      if (n == 's' && in_class) {
        out += kWhitespace;
      } else if (n == 's' || n == 'S') {
        out += n == 's' ? "[" : "[^";
        out += kWhitespace;
        out += "]";
      } else {
        out += c;
        out += n;
      }
      continue;
    }
    out += c;
    if (!in_class && c == '[') {
      in_class = true;
      if (i + 1 < re.size() && re[i + 1] == '^') out += re[++i];
      if (i + 1 < re.size() && re[i + 1] == ']') out += re[++i];  // leading ] is literal
    } else if (in_class && c == ']') {
      in_class = false;
    }
  }
  return out;
}

// --- pattern text ---------------------------------------------------------------------------

constexpr std::string_view kGpt2 =
    R"re('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S))re";
constexpr std::string_view kLlama3 =
    R"re((?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)re";
constexpr std::string_view kQwen2 =
    R"re((?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)re";
constexpr std::string_view kQwen35 =
    R"re((?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?[\p{L}\p{M}]+|\p{N}| ?[^\s\p{L}\p{M}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)re";
// Llama-3 with whitespace runs cut into power-of-two blocks.
constexpr std::string_view kJais2 =
    R"re((?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s{512}(?!\S)|\s{256}(?!\S)|\s{128}(?!\S)|\s{64}(?!\S)|\s{32}(?!\S)|\s{16}(?!\S)|\s{8}(?!\S)|\s{4}(?!\S)|\s{1,2}(?!\S)|\s{1})re";
constexpr std::string_view kExaoneMoe =
    R"re((?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?(?:\p{L}\p{M}*(?: \p{L}\p{M}*)*)+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n/]?|\s*[\r\n]|\s+(?!\S)|\s+)re";
constexpr std::string_view kMiniCpm5 =
    R"re((?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}+| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)re";
constexpr std::string_view kUfakzeka =
    R"re([^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)re";
constexpr std::string_view kSeedCoder =
    R"re((?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1}| ?[^\s\p{L}\p{N}\r\n]+|\s*[\r\n]+|\s+(?!\S)|\s+)re";
constexpr std::string_view kBailing =
    R"re('(?:[sSdDmMtT]|[lL][lL]|[vV][eE]|[rR][eE])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]|\s+(?!\S)|\s+)re";
// [^a-z] under a letter lookahead stands in for "upper or caseless letter" (llama.cpp's form).
constexpr std::string_view kTekken =
    R"re([^\r\n\p{L}\p{N}]?((?=[\p{L}])([^a-z]))*((?=[\p{L}])([^A-Z]))+|[^\r\n\p{L}\p{N}]?((?=[\p{L}])([^a-z]))+((?=[\p{L}])([^A-Z]))*|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+)re";
constexpr std::string_view kGpt4o =
    R"re([^\r\n\p{L}\p{N}]?((?=[\p{L}])([^a-z]))*((?=[\p{L}])([^A-Z]))+(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])?|[^\r\n\p{L}\p{N}]?((?=[\p{L}])([^a-z]))+((?=[\p{L}])([^A-Z]))*(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])?|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+)re";
constexpr std::string_view kDeepseek3Main =
    R"re([!"#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~][A-Za-z]+|[^\r\n\p{L}\p{P}\p{S}]?[\p{L}\p{M}]+| ?[\p{P}\p{S}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)re";
constexpr std::string_view kSpark25Main =
    R"re([!"#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~][A-Za-z]+|[^\r\n\p{L}\p{P}\p{S}]?[\p{L}\p{M}]+| ?[\p{P}\p{S}]+|[\r\n]|\s+(?!\S)|\s+)re";
// DeepSeek LLM's letter class (cased letters), code points written out to avoid any
// normalization of the singleton characters (OHM SIGN, KELVIN SIGN, ...) in this source file.
constexpr std::string_view kDeepseekLlmLetters =
    R"re(\s?[A-Za-z\x{B5}\x{C0}-\x{D6}\x{D8}-\x{F6}\x{F8}-\x{1BA}\x{1BC}-\x{1BF}\x{1C4}-\x{293}\x{295}-\x{2AF}\x{370}-\x{373}\x{376}\x{377}\x{37B}-\x{37D}\x{37F}\x{386}\x{388}-\x{38A}\x{38C}\x{38E}-\x{3A1}\x{3A3}-\x{3F5}\x{3F7}-\x{481}\x{48A}-\x{52F}\x{531}-\x{556}\x{10A0}-\x{10C5}\x{13A0}-\x{13F5}\x{13F8}-\x{13FD}\x{1C90}-\x{1CBA}\x{1CBD}-\x{1CBF}\x{1D00}-\x{1D2B}\x{1D6B}-\x{1D77}\x{1D79}-\x{1D9A}\x{1E00}-\x{1F15}\x{1F18}-\x{1F1D}\x{1F20}-\x{1F45}\x{1F48}-\x{1F4D}\x{1F50}-\x{1F57}\x{1F59}\x{1F5B}\x{1F5D}\x{1F5F}-\x{1F7D}\x{1F80}-\x{1FB4}\x{1FB6}-\x{1FBC}\x{1FBE}\x{1FC2}-\x{1FC4}\x{1FC6}-\x{1FCC}\x{1FD0}-\x{1FD3}\x{1FD6}-\x{1FDB}\x{1FE0}-\x{1FEC}\x{1FF2}-\x{1FF4}\x{1FF6}-\x{1FFC}\x{2102}\x{2107}\x{210A}-\x{2113}\x{2115}\x{2119}-\x{211D}\x{2124}\x{2126}\x{2128}\x{212A}-\x{212D}\x{212F}-\x{2134}\x{2139}\x{213C}-\x{213F}\x{2145}-\x{2149}\x{214E}\x{2183}\x{2184}\x{2C00}-\x{2C7B}\x{2C7E}-\x{2CE4}\x{2CEB}-\x{2CEE}\x{2CF2}\x{2CF3}\x{A640}-\x{A66D}\x{A680}-\x{A69B}\x{A722}-\x{A76F}\x{A771}-\x{A787}\x{A78B}-\x{A78E}\x{AB70}-\x{ABBF}\x{FB00}-\x{FB06}\x{FB13}-\x{FB17}\x{FF21}-\x{FF3A}\x{FF41}-\x{FF5A}\x{10400}-\x{1044F}\x{104B0}-\x{104D3}\x{104D8}-\x{104FB}\x{10C80}-\x{10CB2}\x{10CC0}-\x{10CF2}\x{118A0}-\x{118DF}\x{1E900}-\x{1E943}]+)re";
constexpr std::string_view kCjkHangul = R"re([\x{4E00}-\x{9FA5}\x{800}-\x{4E00}\x{AC00}-\x{D7FF}]+)re";
constexpr std::string_view kBloom =
    R"re( ?[^(\s|.,!?\x{2026}\x{3002}\x{FF0C}\x{3001}\x{964}\x{6D4}\x{60C})]+)re";

// --- regex lists and the pre names that select them ------------------------------------------

constexpr std::string_view kListDefault[] = {R"re([\p{P}\$\+<=>\^~\|]+)re", kGpt2, R"re(\p{N}+)re",
                                             "[0-9][0-9][0-9]"};
constexpr std::string_view kListGpt2[] = {kGpt2};
constexpr std::string_view kListLlama3[] = {kLlama3};
constexpr std::string_view kListQwen2[] = {kQwen2};
constexpr std::string_view kListStarcoder[] = {R"re(\p{N})re", kGpt2};  // digits one by one
constexpr std::string_view kListFalcon[] = {R"re([\p{P}\$\+<=>\^~\|`]+)re", kGpt2,
                                            "[0-9][0-9][0-9]"};
constexpr std::string_view kListDeepseekLlm[] = {
    "[\r\n]", kDeepseekLlmLetters,
    R"re(\s?[!-/:-~\x{FF01}-\x{FF0F}\x{FF1A}-\x{FF5E}\x{2018}-\x{201F}\x{3000}-\x{3002}]+)re",
    R"re(\s+$)re", kCjkHangul, R"re(\p{N}+)re"};
constexpr std::string_view kListDeepseekCoder[] = {"[\r\n]", R"re(\s?\p{L}+)re", R"re(\s?\p{P}+)re",
                                                   kCjkHangul, R"re(\p{N})re"};
constexpr std::string_view kListDeepseek3[] = {
    R"re(\p{N}{1,3})re", R"re([\x{4E00}-\x{9FA5}\x{3040}-\x{309F}\x{30A0}-\x{30FF}]+)re",
    kDeepseek3Main};
constexpr std::string_view kListSpark25[] = {
    R"re(\p{N}{1,3})re", R"re([\x{4E00}-\x{9FA5}\x{3040}-\x{309F}\x{30A0}-\x{30FF}]+)re",
    kSpark25Main, R"re(\p{N})re"};
constexpr std::string_view kListQwen35[] = {kQwen35};
constexpr std::string_view kListJais2[] = {kJais2};
constexpr std::string_view kListExaoneMoe[] = {kExaoneMoe};
constexpr std::string_view kListMiniCpm5[] = {R"re(\p{N}{1,3})re", kMiniCpm5};
constexpr std::string_view kListUfakzeka[] = {kUfakzeka};
constexpr std::string_view kListLaguna[] = {"[^\n]+|[\n]+", kQwen2};
constexpr std::string_view kListBloom[] = {kBloom};
constexpr std::string_view kListViking[] = {kBloom, R"re(\p{N})re"};
constexpr std::string_view kListTekken[] = {kTekken};
constexpr std::string_view kListGpt4o[] = {kGpt4o};
constexpr std::string_view kListBailing[] = {kBailing};
constexpr std::string_view kListSeedCoder[] = {kSeedCoder};
constexpr std::string_view kListChameleon[] = {
    "<sentinel:[0-9]+>", "(IMGIMG)((A|B|C|D|E|F|G|H|I){1,4})Z", "([\\t\\n]|    |  )",
    R"re(\p{N})re", R"re([\p{P}!-/:-@\[-`{-~])re", kGpt2};

struct PreConfig {
  std::string_view name;
  std::span<const std::string_view> regexes;
  bool ignore_merges;  // a word that is itself a token skips the merge loop
  bool add_bos;        // default for tokenizer.ggml.add_bos_token
};

constexpr PreConfig kConfigs[] = {
    {"default", kListDefault, false, false},
    {"llama3", kListLlama3, true, true},
    {"llama-v3", kListLlama3, true, true},
    {"llama-bpe", kListLlama3, true, true},
    {"falcon3", kListLlama3, true, true},
    {"falcon-h1", kListLlama3, true, true},
    {"pixtral", kListLlama3, true, true},
    {"midm-2.0", kListLlama3, true, true},
    {"lfm2", kListLlama3, true, true},
    {"jina-v5-nano", kListLlama3, true, true},
    {"dbrx", kListLlama3, false, false},
    {"smaug-bpe", kListLlama3, false, false},
    {"glm4", kListLlama3, true, false},
    {"glm5", kListLlama3, true, false},
    {"chatglm-bpe", kListLlama3, false, false},
    {"deepseek-llm", kListDeepseekLlm, false, false},
    {"deepseek-coder", kListDeepseekCoder, false, false},
    {"deepseek-v3", kListDeepseek3, false, false},
    {"hunyuan-dense", kListDeepseek3, false, false},
    {"hy_v4", kListDeepseek3, false, false},
    {"joyai-llm", kListDeepseek3, false, false},
    {"spark2_5", kListSpark25, false, false},
    {"falcon", kListFalcon, false, false},
    {"gpt-2", kListGpt2, false, false},
    {"mpt", kListGpt2, false, false},
    {"olmo", kListGpt2, false, false},
    {"jais", kListGpt2, false, false},
    {"trillion", kListGpt2, false, false},
    {"granite-docling", kListGpt2, false, false},
    {"phi-2", kListGpt2, false, false},
    {"jina-es", kListGpt2, false, false},
    {"jina-de", kListGpt2, false, false},
    {"jina-v1-en", kListGpt2, false, false},
    {"jina-v2-es", kListGpt2, false, false},
    {"jina-v2-de", kListGpt2, false, false},
    {"jina-v2-code", kListGpt2, false, false},
    {"roberta-bpe", kListGpt2, false, false},
    {"gigachat", kListGpt2, false, false},
    {"a.x-4.0", kListGpt2, false, false},
    {"mellum", kListGpt2, false, false},
    {"modern-bert", kListGpt2, false, false},
    {"exaone4", kListGpt2, false, false},
    {"starcoder", kListStarcoder, false, false},
    {"refact", kListStarcoder, false, false},
    {"command-r", kListStarcoder, false, false},
    {"smollm", kListStarcoder, false, false},
    {"codeshell", kListStarcoder, false, false},
    {"exaone", kListStarcoder, false, false},
    {"minerva-7b", kListStarcoder, false, false},
    {"qwen2", kListQwen2, false, false},
    {"deepseek-r1-qwen", kListQwen2, false, false},
    {"kormo", kListQwen2, false, false},
    {"f2llmv2", kListQwen2, false, false},
    {"qwen35", kListQwen35, false, false},
    {"jais-2", kListJais2, false, false},
    {"exaone-moe", kListExaoneMoe, false, false},
    {"minicpm5", kListMiniCpm5, true, false},
    {"ufakzeka", kListUfakzeka, false, false},
    {"laguna", kListLaguna, false, false},
    {"megrez", kListQwen2, false, false},
    {"stablelm2", kListQwen2, false, false},
    {"hunyuan", kListQwen2, false, false},
    {"grok-2", kListQwen2, false, false},
    {"poro-chat", kListBloom, false, false},
    {"bloom", kListBloom, false, false},
    {"gpt3-finnish", kListBloom, false, false},
    {"viking", kListViking, false, false},
    {"tekken", kListTekken, true, true},
    {"chameleon", kListChameleon, false, true},
    {"gpt-4o", kListGpt4o, false, false},
    {"llama4", kListGpt4o, false, false},
    {"minimax-m2", kListGpt4o, false, false},
    {"kanana2", kListGpt4o, false, false},
    {"talkie", kListGpt4o, false, false},
    {"bailingmoe", kListBailing, false, false},
    {"bailingmoe2", kListBailing, false, false},
    {"llada-moe", kListBailing, false, false},
    {"seed-coder", kListSeedCoder, false, false},
};

std::atomic<bool> g_warned_unknown_pre{false};

}  // namespace

struct PreTokenizer::Regex {
  pcre2_code* code = nullptr;
  ~Regex() { pcre2_code_free(code); }
};

PreTokenizer::PreTokenizer() = default;
PreTokenizer::~PreTokenizer() = default;

std::unique_ptr<PreTokenizer> PreTokenizer::create(std::string_view pre, std::string* error) {
  const PreConfig* cfg = &kConfigs[0];
  bool found = pre.empty();
  for (const PreConfig& c : kConfigs) {
    if (c.name == pre) {
      cfg = &c;
      found = true;
      break;
    }
  }
  if (!found && !g_warned_unknown_pre.exchange(true)) {
    std::fprintf(stderr,
                 "qengine: warning: unknown tokenizer.ggml.pre '%.*s', using the default BPE "
                 "pre-tokenizer; tokenization may differ from the model's\n",
                 static_cast<int>(pre.size()), pre.data());
  }

  std::unique_ptr<PreTokenizer> p(new PreTokenizer());
  p->name_ = std::string(cfg->name);
  p->ignore_merges_ = cfg->ignore_merges;
  p->add_bos_ = cfg->add_bos;
  for (std::string_view src : cfg->regexes) {
    const std::string pattern = expand_whitespace(src);
    int err = 0;
    PCRE2_SIZE err_off = 0;
    // DOLLAR_ENDONLY: `$` must not match before a final newline (std::regex semantics).
    pcre2_code* code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(),
                                     PCRE2_UTF | PCRE2_UCP | PCRE2_DOLLAR_ENDONLY, &err, &err_off,
                                     nullptr);
    if (code == nullptr) {
      PCRE2_UCHAR msg[256];
      pcre2_get_error_message(err, msg, sizeof(msg));
      if (error) {
        *error = "pre-tokenizer '" + p->name_ + "': regex does not compile at offset " +
                 std::to_string(err_off) + ": " + reinterpret_cast<const char*>(msg);
      }
      return nullptr;
    }
    pcre2_jit_compile(code, PCRE2_JIT_COMPLETE);  // optional: the interpreter is the fallback
    auto r = std::make_unique<Regex>();
    r->code = code;
    p->regexes_.push_back(std::move(r));
  }
  return p;
}

void PreTokenizer::split(std::string_view text, std::vector<std::string_view>* words) const {
  words->clear();
  if (text.empty()) return;
  // Pieces as (begin, end) byte offsets into text.
  std::vector<std::pair<size_t, size_t>> cur{{0, text.size()}};
  std::vector<std::pair<size_t, size_t>> next;
  pcre2_match_data* md = pcre2_match_data_create(1, nullptr);  // only the whole-match pair
  const auto* subject_base = reinterpret_cast<PCRE2_SPTR>(text.data());

  for (const auto& re : regexes_) {
    next.clear();
    next.reserve(cur.size() * 2);
    for (const auto& [b, e] : cur) {
      const PCRE2_SPTR subj = subject_base + b;
      const size_t len = e - b;
      size_t pos = 0;   // where the next search starts
      size_t last = 0;  // end of the previous match: text since then is a gap
      while (pos < len) {
        int rc = pcre2_match(re->code, subj, len, pos, PCRE2_NO_UTF_CHECK, md, nullptr);
        if (rc == PCRE2_ERROR_JIT_STACKLIMIT) {
          // Very long runs can exhaust the JIT stack; the interpreter keeps its frames on the heap.
          rc = pcre2_match(re->code, subj, len, pos, PCRE2_NO_UTF_CHECK | PCRE2_NO_JIT, md,
                           nullptr);
        }
        if (rc < 0) break;  // no match (or a resource limit): the rest is one gap
        const PCRE2_SIZE* ov = pcre2_get_ovector_pointer(md);
        const size_t ms = ov[0], me = ov[1];
        if (me == ms) {  // empty match: step over one character, keep it in the gap
          pos = ms + 1;
          while (pos < len && (subj[pos] & 0xC0) == 0x80) ++pos;
          continue;
        }
        if (ms > last) next.emplace_back(b + last, b + ms);
        next.emplace_back(b + ms, b + me);
        last = pos = me;
      }
      if (last < len) next.emplace_back(b + last, e);
    }
    cur.swap(next);
  }
  pcre2_match_data_free(md);

  words->reserve(cur.size());
  for (const auto& [b, e] : cur) words->push_back(text.substr(b, e - b));
}

}  // namespace qe::tok
