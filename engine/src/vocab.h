// Reads a GGUF file's tokenizer.ggml.* metadata into the tokenizer box's VocabData.
#pragma once

#include "gguf.h"
#include "status.h"
#include "tokenizer.h"

namespace qe {

// Every tokenizer.ggml.* key the tokenizer uses, plus general.name. Errors (kBadFormat, or
// kUnsupported for an unknown tokenizer model) name the file and the key: a missing token list,
// wrong value types, scores/token_type lengths that differ from the token list, special token
// ids outside the vocabulary (padding/separator ids outside it are dropped with a stderr
// warning instead, as llama.cpp does). An id of -1 / 0xFFFFFFFF means "not set".
Result<tok::VocabData> load_vocab(const gguf::File& f);

}  // namespace qe
