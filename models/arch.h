// Architecture descriptions: what differs between decoder-only families, stated once as data.
#pragma once

#include <span>
#include <string>
#include <string_view>

namespace qe::models {

// How rotary embeddings pair the dimensions of a head.
enum class RopeStyle {
  kNormal,  // GPT-J style: rotate pairs (2i, 2i+1); GGUF llama files permute Q/K rows for this
  kNeox,    // GPT-NeoX style: rotate pairs (i, i + n_rot/2)
};

enum class FfnActivation { kSwiGlu };  // down(silu(gate(x)) * up(x))

// One decoder-only family. The forward pass is generic; these flags are its only branches.
struct ArchDesc {
  std::string_view name;    // general.architecture value, also the metadata key prefix
  RopeStyle rope;
  bool qkv_bias;            // blk.N.attn_{q,k,v}.bias present (required)
  bool output_optional;     // output.weight may be absent: tied to token_embd.weight
  FfnActivation ffn;
};

// nullptr when the architecture is not supported.
const ArchDesc* find_arch(std::string_view name);
std::span<const ArchDesc> all_archs();

// Metadata keys: "<arch>.<suffix>", e.g. key(arch, "embedding_length").
std::string key(const ArchDesc& arch, std::string_view suffix);

// Tensor names in GGUF's convention.
inline constexpr std::string_view kTokenEmbd = "token_embd.weight";    // (vocab, n_embd)
inline constexpr std::string_view kOutputNorm = "output_norm.weight";  // (n_embd)
inline constexpr std::string_view kOutput = "output.weight";          // (vocab, n_embd)
inline constexpr std::string_view kRopeFreqs = "rope_freqs.weight";    // (n_rot/2), Llama 3.1 scaling
// "blk.<layer>.<suffix>", e.g. layer_tensor(3, "attn_q.weight").
std::string layer_tensor(int layer, std::string_view suffix);

}  // namespace qe::models
