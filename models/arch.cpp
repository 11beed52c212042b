// The table of supported architectures.
#include "arch.h"

#include <algorithm>
#include <array>

namespace qe::models {
namespace {

// Llama covers Llama 2/3/3.1, Mistral, TinyLlama, SmolLM2 and llama2.c exports; Qwen2 adds
// Q/K/V biases and NeoX rotary pairing.
constexpr std::array<ArchDesc, 2> kArchs = {{
    {"llama", RopeStyle::kNormal, /*qkv_bias=*/false, /*output_optional=*/true, FfnActivation::kSwiGlu},
    {"qwen2", RopeStyle::kNeox, /*qkv_bias=*/true, /*output_optional=*/true, FfnActivation::kSwiGlu},
}};

}  // namespace

const ArchDesc* find_arch(std::string_view name) {
  const auto it = std::find_if(kArchs.begin(), kArchs.end(), [&](const ArchDesc& a) { return a.name == name; });
  return it == kArchs.end() ? nullptr : &*it;
}

std::span<const ArchDesc> all_archs() { return kArchs; }

std::string key(const ArchDesc& arch, std::string_view suffix) {
  std::string k(arch.name);
  k += '.';
  k += suffix;
  return k;
}

std::string layer_tensor(int layer, std::string_view suffix) {
  std::string n = "blk." + std::to_string(layer) + ".";
  n += suffix;
  return n;
}

}  // namespace qe::models
