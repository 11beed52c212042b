/* qengine.h: the public C API of libengine (pure C; a test compiles it as C11).
 *
 * Conventions
 * - Opaque handles, created and freed in pairs: qe_model_load/qe_model_free,
 *   qe_context_create/qe_context_free, qe_sampler_create/qe_sampler_free, qe_gguf_open/qe_gguf_free.
 * - Every function that can fail returns a qe_status; on failure qe_last_error() returns a
 *   message for the calling thread naming what was wrong (file, key, value). No C++ exception
 *   ever crosses this API.
 * - Buffers are owned by the caller. Functions that write variable-size results take
 *   (buf, capacity, &n_needed): they always set n_needed to the full size (bytes for text,
 *   excluding the terminating NUL they add when it fits; elements for arrays) and return
 *   QE_ERR_BUFFER_TOO_SMALL when capacity is not enough, so callers can retry.
 * - Parameter structs start with a `size` field set by the *_default_params() functions;
 *   later versions only append fields, so old callers keep working.
 * - Thread safety: a qe_model is immutable after loading and may be shared by any number of
 *   contexts on any threads. A qe_context or qe_sampler must be used by one thread at a time.
 */
#ifndef QENGINE_H
#define QENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(_WIN32)
#define QE_API __declspec(dllexport)
#else
#define QE_API __attribute__((visibility("default")))
#endif

typedef enum qe_status {
  QE_OK = 0,
  QE_ERR_INVALID_ARGUMENT = 1, /* bad parameter, flag value or request */
  QE_ERR_IO = 2,               /* a file cannot be opened, read or written */
  QE_ERR_BAD_FORMAT = 3,       /* a file is corrupt, truncated or inconsistent */
  QE_ERR_UNSUPPORTED = 4,      /* valid but not supported (architecture, tensor type) */
  QE_ERR_OUT_OF_MEMORY = 5,
  QE_ERR_CONTEXT_FULL = 6,     /* the tokens do not fit in the context window */
  QE_ERR_INTERNAL = 7,         /* a bug in qengine: please report it */
  QE_ERR_BUFFER_TOO_SMALL = 8  /* retry with the size reported through n_needed */
} qe_status;

typedef struct qe_model qe_model;
typedef struct qe_context qe_context;
typedef struct qe_sampler qe_sampler;
typedef struct qe_gguf qe_gguf;

/* Library version, e.g. "0.1.0". */
QE_API const char* qe_version(void);
/* Message of the last failed call on this thread ("" if none). Valid until the next call. */
QE_API const char* qe_last_error(void);
/* Short name of a status code, e.g. "bad format". */
QE_API const char* qe_status_string(qe_status status);

/* Text report of the CPU: detected features, the kernel level in use (QE_CPU_ISA may force
 * a lower one) and, per weight type, which kernels serve it. */
QE_API qe_status qe_cpu_info(char* buf, size_t capacity, size_t* n_needed);

/* ---- GGUF inspection (no model needed) --------------------------------------------------- */

QE_API qe_status qe_gguf_open(const char* path, qe_gguf** out);
QE_API void qe_gguf_free(qe_gguf* gguf);
QE_API uint32_t qe_gguf_version(const qe_gguf* gguf);
QE_API int64_t qe_gguf_n_metadata(const qe_gguf* gguf);
/* Key i, and its value rendered as text (arrays abbreviated past max_array_items items). */
QE_API qe_status qe_gguf_metadata(const qe_gguf* gguf, int64_t i, char* key, size_t key_capacity, size_t* key_needed,
                                  char* value, size_t value_capacity, size_t* value_needed, int32_t max_array_items);
QE_API int64_t qe_gguf_n_tensors(const qe_gguf* gguf);
typedef struct qe_tensor_desc {
  const char* name;  /* valid while the qe_gguf is open */
  const char* type;  /* e.g. "Q4_K" */
  int32_t n_dims;
  uint64_t dims[4];  /* dims[0] is the row length */
  uint64_t offset;   /* from the start of the data section */
  uint64_t n_bytes;
} qe_tensor_desc;
QE_API qe_status qe_gguf_tensor(const qe_gguf* gguf, int64_t i, qe_tensor_desc* desc);

/* ---- Model ------------------------------------------------------------------------------ */

/* Called during loading with the fraction done, in [0, 1]. */
typedef void (*qe_progress_fn)(float fraction, void* user_data);

typedef struct qe_model_params {
  uint32_t size; /* sizeof(qe_model_params) */
  qe_progress_fn progress;
  void* progress_user_data;
  bool no_repack; /* keep the GGUF layout in the mapping (scalar kernels); default false */
} qe_model_params;

QE_API qe_model_params qe_model_default_params(void);
QE_API qe_status qe_model_load(const char* path, const qe_model_params* params, qe_model** out);
QE_API void qe_model_free(qe_model* model);

typedef struct qe_model_desc {
  const char* name;         /* general.name or the architecture; valid while the model lives */
  const char* arch;         /* e.g. "llama" */
  int32_t n_vocab, n_ctx_train, n_embd, n_layer, n_head, n_head_kv, n_ff;
  uint64_t n_params;
  uint64_t weight_bytes;    /* bytes of weights read per token */
  const char* weight_type;  /* the type holding most weight bytes, e.g. "Q4_1" */
} qe_model_desc;
QE_API qe_status qe_model_describe(const qe_model* model, qe_model_desc* desc);
/* The model's own chat template text ("" when the file has none). */
QE_API const char* qe_model_chat_template(const qe_model* model);

/* ---- Tokenizer ------------------------------------------------------------------------- */

/* Tokens of `text` (len bytes, need not be NUL-terminated; must be valid UTF-8).
 * add_bos: prepend BOS when the vocabulary asks for it (tokenizer.ggml.add_bos_token). parse_special: special-token texts such
 * as "<|im_start|>" become their ids; otherwise they are tokenized as plain text. */
QE_API qe_status qe_tokenize(const qe_model* model, const char* text, size_t len, bool add_bos, bool parse_special,
                             int32_t* tokens, size_t capacity, size_t* n_needed);
/* The bytes of one token (may be a partial UTF-8 sequence; not NUL-terminated counts). */
QE_API qe_status qe_token_to_piece(const qe_model* model, int32_t token, char* buf, size_t capacity,
                                   size_t* n_needed);
/* Text of a token sequence (invalid UTF-8 from partial sequences replaced by U+FFFD). */
QE_API qe_status qe_detokenize(const qe_model* model, const int32_t* tokens, size_t n_tokens, bool skip_special,
                               char* buf, size_t capacity, size_t* n_needed);
QE_API int32_t qe_token_bos(const qe_model* model); /* -1 when none */
QE_API int32_t qe_token_eos(const qe_model* model);
/* True for tokens that end a turn (EOS, EOT, <|im_end|>, ...). */
QE_API bool qe_token_is_eog(const qe_model* model, int32_t token);

/* ---- Chat templates -------------------------------------------------------------------- */

typedef struct qe_chat_message {
  const char* role; /* "system", "user" or "assistant" */
  const char* content;
} qe_chat_message;

/* Renders a conversation with the model's template, or with a named one (template_name:
 * "chatml", "llama2", "llama3", "mistral", "phi3", "gemma", "zephyr"; NULL = the model's).
 * add_assistant: end with the header that starts the assistant's reply. */
QE_API qe_status qe_chat_apply_template(const qe_model* model, const char* template_name,
                                        const qe_chat_message* messages, size_t n_messages, bool add_assistant,
                                        char* buf, size_t capacity, size_t* n_needed);

/* ---- Context --------------------------------------------------------------------------- */

/* How matrix products see activations. */
typedef enum qe_act_mode {
  QE_ACT_DEFAULT = 0, /* the engine's choice: currently QE_ACT_F32 (see docs/accuracy.md) */
  QE_ACT_F32 = 1,     /* fp32 activations, weights dequantized in registers (W4A16, W8A16) */
  QE_ACT_Q8 = 2       /* int8 activations per block, integer dot products (W8A8, W4A8) */
} qe_act_mode;

/* Storage of the KV cache. */
typedef enum qe_kv_type {
  QE_KV_DEFAULT = 0, /* f16 */
  QE_KV_F32 = 1,
  QE_KV_F16 = 2,
  QE_KV_BF16 = 3,
  QE_KV_Q8 = 4,      /* int8, one scale per head per token */
  QE_KV_Q4 = 5       /* int4, scale and zero per group along the head dimension */
} qe_kv_type;

/* How attention computes on a quantized cache. */
typedef enum qe_attn_mode {
  QE_ATTN_DEFAULT = 0, /* integer for q8/q4 caches, float otherwise */
  QE_ATTN_FLOAT = 1,   /* dequantize cache tiles, fp32 dot products */
  QE_ATTN_INT = 2      /* int8 query, integer Q·K and P·V on the packed cache */
} qe_attn_mode;

typedef struct qe_context_params {
  uint32_t size;     /* sizeof(qe_context_params) */
  int32_t n_ctx;     /* context window in tokens; 0 = min(trained length, 4096) */
  int32_t n_batch;   /* prompt tokens per forward pass (default 512) */
  int32_t n_threads; /* 0 = all cores */
  qe_act_mode act;   /* default QE_ACT_DEFAULT */
  bool pin_threads;  /* bind the worker threads (and the caller) to distinct CPUs; default false */
  qe_kv_type kv;     /* default QE_KV_DEFAULT */
  qe_attn_mode attn; /* default QE_ATTN_DEFAULT */
  int32_t kv_group;  /* q4 group size along the head dimension: 32 (default), 64 or 128; with
                        kv_k_per_channel also the key token group (and fp16 window unit) */
  bool kv_k_per_channel; /* q4: keys per channel over kv_group-token groups with the most recent
                            kv_group..2*kv_group-1 positions kept in fp16 (KIVI); default true;
                            false: keys per token like values. Ignored by other types */
  float rope_scaling; /* linear RoPE scaling: positions are divided by this factor and n_ctx may reach
                         the trained length times it; 0 (default) = none, n_ctx capped at the trained length */
} qe_context_params;

/* Bytes of KV cache per token of context for a model and these parameters (rounded up; the
 * fixed fp16 residual window of kv_k_per_channel is not included). Thread-safe. */
QE_API qe_status qe_context_kv_bytes_per_token(const qe_model* model, const qe_context_params* params,
                                               uint64_t* bytes);

QE_API qe_context_params qe_context_default_params(void);
QE_API qe_status qe_context_create(const qe_model* model, const qe_context_params* params, qe_context** out);
QE_API void qe_context_free(qe_context* ctx);
QE_API int32_t qe_context_n_ctx(const qe_context* ctx);
/* Number of positions the KV cache holds. */
QE_API int32_t qe_context_n_past(const qe_context* ctx);
/* Forgets every position >= n_keep (0 starts over). */
QE_API qe_status qe_context_truncate(qe_context* ctx, int32_t n_keep);
/* For benchmarks: appends n_tokens positions of pseudo-random keys and values (from seed) to
 * every layer without evaluating the model, so decode speed can be measured at a context depth
 * without a long prompt. The positions match no token; logits are unavailable until the next
 * qe_eval. QE_ERR_CONTEXT_FULL (nothing changed) when they do not fit. Not thread-safe on ctx. */
QE_API qe_status qe_context_fill_synthetic(qe_context* ctx, int32_t n_tokens, uint64_t seed);

/* Appends tokens to the sequence and computes logits: for every token when all_logits, else
 * for the last one only. QE_ERR_CONTEXT_FULL (nothing changed) when they do not fit. */
QE_API qe_status qe_eval(qe_context* ctx, const int32_t* tokens, size_t n_tokens, bool all_logits);
/* (n_vocab) logits of token i of the last qe_eval (i = -1: the last); NULL when unavailable.
 * Valid until the next call on ctx. */
QE_API const float* qe_get_logits(const qe_context* ctx, int32_t i);

/* ---- Sampling -------------------------------------------------------------------------- */

typedef struct qe_sampler_params {
  uint32_t size;            /* sizeof(qe_sampler_params) */
  float temperature;        /* <= 0: greedy. default 0.8 */
  int32_t top_k;            /* <= 0: off. default 40 */
  float top_p;              /* >= 1: off. default 0.95 */
  float min_p;              /* <= 0: off. default 0.05 */
  float repeat_penalty;     /* 1: off (default) */
  int32_t repeat_last_n;    /* tokens the penalties look back over. default 64 */
  float presence_penalty;   /* 0: off */
  float frequency_penalty;  /* 0: off */
  uint64_t seed;            /* same seed, same model, same prompt: same text */
} qe_sampler_params;

QE_API qe_sampler_params qe_sampler_default_params(void);
QE_API qe_status qe_sampler_create(const qe_sampler_params* params, qe_sampler** out);
QE_API void qe_sampler_free(qe_sampler* sampler);
/* Draws a token from the last logits of ctx (does not accept it). */
QE_API qe_status qe_sampler_sample(qe_sampler* sampler, const qe_context* ctx, int32_t* token);
/* Records a token in the penalty window. */
QE_API void qe_sampler_accept(qe_sampler* sampler, int32_t token);
QE_API void qe_sampler_reset(qe_sampler* sampler);

/* ---- Generation ------------------------------------------------------------------------ */

/* Receives each piece of complete UTF-8 text as it is generated; return false to stop. */
typedef bool (*qe_text_fn)(const char* text, size_t len, void* user_data);

typedef enum qe_stop_reason {
  QE_STOP_EOG = 0,        /* the model ended its turn */
  QE_STOP_MAX_TOKENS = 1,
  QE_STOP_STRING = 2,     /* a stop string appeared (it is not emitted) */
  QE_STOP_CONTEXT_FULL = 3,
  QE_STOP_CANCELLED = 4   /* the callback returned false */
} qe_stop_reason;

typedef struct qe_generate_params {
  uint32_t size;                /* sizeof(qe_generate_params) */
  int32_t max_tokens;           /* < 0: until end of turn or context full. default -1 */
  const char* const* stop;      /* stop strings (may be NULL) */
  size_t n_stop;
  bool add_bos;                 /* default true */
  bool parse_special;           /* default true: "<|im_start|>" in the prompt is one token */
  qe_text_fn on_text;
  void* user_data;
  /* Called after each prompt batch with the fraction of the prompt's new tokens evaluated
   * (reaching 1 before the first generated text); may be NULL. For progress on long prompts. */
  qe_progress_fn on_prompt_progress;
  void* progress_user_data;
} qe_generate_params;

typedef struct qe_generate_stats {
  int32_t n_prompt;             /* prompt tokens */
  int32_t n_prompt_evaluated;   /* of those, not already in the cache */
  int32_t n_generated;
  double prompt_ms;
  double generate_ms;
  qe_stop_reason stop;
} qe_generate_stats;

QE_API qe_generate_params qe_generate_default_params(void);
/* Makes ctx hold `prompt` (the whole sequence so far, e.g. a rendered conversation; the
 * longest prefix already in the cache is reused) and generates, streaming text to on_text.
 * The sampler's penalty window sees the prompt and the generated tokens. stats may be NULL. */
QE_API qe_status qe_generate(qe_context* ctx, qe_sampler* sampler, const char* prompt,
                             const qe_generate_params* params, qe_generate_stats* stats);

/* ---- Synthetic models ------------------------------------------------------------------ */

typedef struct qe_synth_params {
  uint32_t size;       /* sizeof(qe_synth_params) */
  const char* preset;  /* e.g. "llama3-8b", "tinyllama-1.1b", "tiny-llama"; see qe_synth_presets */
  const char* type;    /* weight type of the 2-D matrices, e.g. "Q4_0", "Q4_K", "F16" */
  uint64_t seed;
  int32_t n_layer;     /* > 0 overrides the preset's layer count */
  qe_progress_fn progress;
  void* progress_user_data;
} qe_synth_params;

QE_API qe_synth_params qe_synth_default_params(void);
/* Comma-separated preset names. */
QE_API const char* qe_synth_presets(void);
/* Writes a random-weight model of the preset's shape, with a synthetic byte-level vocabulary,
 * to path. */
QE_API qe_status qe_synth_write(const qe_synth_params* params, const char* path);

#ifdef __cplusplus
}
#endif

#endif /* QENGINE_H */
