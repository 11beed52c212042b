// Synthetic models: random weights in the exact shapes of real models, in any weight type.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "model.h"
#include "status.h"

namespace qe {

// The shape of a real model (or a tiny test model), as its GGUF metadata would state it.
struct SynthPreset {
  std::string_view name;
  std::string_view arch;  // "llama" or "qwen2"
  int32_t n_embd, n_layer, n_head, n_head_kv, n_ff, n_vocab, n_ctx;
  float rope_base;
  bool tied;              // no output.weight: logits use token_embd
  bool rope_freqs;        // Llama 3.1-style rope_freqs.weight tensor
};

std::span<const SynthPreset> synth_presets();

struct SynthOptions {
  std::string preset;
  std::string type = "Q4_0";  // a format name, or "Q4_K_M" for llama.cpp's usual mix
  uint64_t seed = 1;
  int32_t n_layer = 0;        // > 0 overrides the preset
  ProgressFn progress;
};

// Writes the model to `path`. Every 2-D matrix gets `type` (falling back to Q8_0, then F16,
// for matrices whose row length the type's block does not divide); norms and biases are F32.
Status synth_write(const SynthOptions& opt, const std::string& path);

}  // namespace qe
