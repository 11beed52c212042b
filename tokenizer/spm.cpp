// SentencePiece BPE model for "llama" vocabularies, run by libsentencepiece on a ModelProto
// built from the GGUF pieces (no .model file, no protobuf library).
//
// The proto is shaped so libsentencepiece's BPE merge loop reproduces llama.cpp's
// llm_tokenizer_spm exactly:
//  * every token except byte tokens is a NORMAL piece, so merges may produce any vocabulary
//    string (llama.cpp looks pairs up in its full text->id map, control tokens included);
//    libsentencepiece would never emit CONTROL/UNKNOWN pieces and would re-split UNUSED ones;
//  * "<0xXX>" tokens are BYTE pieces and byte_fallback is on when any exist, which is how
//    llama.cpp spells unknown characters;
//  * the normalizer is the identity with no dummy prefix, no whitespace collapsing and no
//    escaping: the caller applies llama.cpp's own prefix/escape rules first;
//  * duplicate strings keep the last id (llama.cpp's map overwrites); earlier copies become
//    CONTROL pieces with unmatchable placeholder text, since the proto forbids duplicates;
//  * a synthetic UNKNOWN piece is appended because the proto requires exactly one, while GGUF
//    vocabularies may have none or several (Phi-3 has 53).
#include "spm.h"

#include <sentencepiece_processor.h>

#include <algorithm>
#include <cstring>
#include <unordered_map>

#include "unicode.h"

namespace qe::tok {

namespace {

// --- protobuf wire format (just what ModelProto needs) ----------------------------------------
// Field key = (field_number << 3) | wire_type; 0 = varint, 2 = length-delimited, 5 = fixed32.

void put_varint(std::string* out, uint64_t v) {
  while (v >= 0x80) {
    out->push_back(static_cast<char>((v & 0x7F) | 0x80));
    v >>= 7;
  }
  out->push_back(static_cast<char>(v));
}

void put_key(std::string* out, int field, int wire_type) {
  put_varint(out, (static_cast<uint64_t>(field) << 3) | static_cast<uint64_t>(wire_type));
}

// int32/enum/bool: negative values are sign-extended to 64 bits (10-byte varint).
void put_int(std::string* out, int field, int64_t v) {
  put_key(out, field, 0);
  put_varint(out, static_cast<uint64_t>(v));
}

void put_bytes(std::string* out, int field, std::string_view bytes) {
  put_key(out, field, 2);
  put_varint(out, bytes.size());
  out->append(bytes);
}

void put_float(std::string* out, int field, float f) {
  put_key(out, field, 5);
  uint32_t u = 0;
  std::memcpy(&u, &f, sizeof(u));
  for (int i = 0; i < 4; ++i) out->push_back(static_cast<char>((u >> (8 * i)) & 0xFF));
}

// sentencepiece_model.proto field numbers.
enum : int {
  kModelPieces = 1, kModelTrainerSpec = 2, kModelNormalizerSpec = 3,
  kPiecePiece = 1, kPieceScore = 2, kPieceType = 3,
  kTrainerModelType = 3, kTrainerVocabSize = 4, kTrainerByteFallback = 35,
  kTrainerUnkId = 40, kTrainerBosId = 41, kTrainerEosId = 42, kTrainerPadId = 43,
  kNormName = 1, kNormAddDummyPrefix = 3, kNormRemoveExtraWs = 4, kNormEscapeWs = 5,
};
enum : int { kTypeNormal = 1, kTypeUnknown = 2, kTypeControl = 3, kTypeByte = 6 };
constexpr int kModelTypeBpe = 2;

// U+FFFF is a noncharacter: no piece produced from real text starts with it.
constexpr std::string_view kPlaceholderPrefix = "\xEF\xBF\xBFqe-";

bool is_byte_piece(std::string_view s) {
  auto hex = [](char c) { return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'F'); };
  return s.size() == 6 && s.substr(0, 3) == "<0x" && hex(s[3]) && hex(s[4]) && s[5] == '>';
}

// Records each pair of adjacent code points in `piece` (see SpmModel::adjacent_).
void add_adjacent_pairs(std::string_view piece, std::vector<uint64_t>* pairs) {
  uint32_t prev = 0;
  bool have_prev = false;
  for (size_t i = 0; i < piece.size();) {
    uint32_t cp = 0;
    size_t len = 0;
    if (decode_utf8(piece, i, &cp, &len) != Utf8Status::kOk) {
      have_prev = false;  // text never holds ill-formed bytes here, so no pair can match
      i += len;
      continue;
    }
    if (have_prev) pairs->push_back(static_cast<uint64_t>(prev) << 32 | cp);
    prev = cp;
    have_prev = true;
    i += len;
  }
}

void put_piece(std::string* model, std::string_view text, float score, int type) {
  std::string p;
  put_bytes(&p, kPiecePiece, text);
  put_float(&p, kPieceScore, score);
  put_int(&p, kPieceType, type);
  put_bytes(model, kModelPieces, p);
}

}  // namespace

SpmModel::SpmModel() = default;
SpmModel::~SpmModel() = default;

std::unique_ptr<SpmModel> SpmModel::create(std::span<const std::string> tokens,
                                           std::span<const float> scores, int32_t unk_id,
                                           std::string* error) {
  const size_t n = tokens.size();
  std::unordered_map<std::string_view, size_t> last;
  last.reserve(n);
  for (size_t i = 0; i < n; ++i) last[tokens[i]] = i;

  std::vector<uint64_t> adjacent;
  std::string model;
  model.reserve(n * 24);
  bool any_byte = false;
  for (size_t i = 0; i < n; ++i) {
    const std::string& t = tokens[i];
    const float score = scores.empty() ? 0.0f : scores[i];
    if (t.empty() || last[t] != i) {
      put_piece(&model, std::string(kPlaceholderPrefix) + "shadowed-" + std::to_string(i), 0.0f,
                kTypeControl);
    } else if (is_byte_piece(t)) {
      put_piece(&model, t, score, kTypeByte);
      any_byte = true;
    } else {
      put_piece(&model, t, score, kTypeNormal);
      add_adjacent_pairs(t, &adjacent);
    }
  }
  put_piece(&model, std::string(kPlaceholderPrefix) + "unk", 0.0f, kTypeUnknown);

  std::string trainer;
  put_int(&trainer, kTrainerModelType, kModelTypeBpe);
  put_int(&trainer, kTrainerVocabSize, static_cast<int64_t>(n + 1));
  put_int(&trainer, kTrainerByteFallback, any_byte ? 1 : 0);
  put_int(&trainer, kTrainerUnkId, static_cast<int64_t>(n));
  put_int(&trainer, kTrainerBosId, -1);
  put_int(&trainer, kTrainerEosId, -1);
  put_int(&trainer, kTrainerPadId, -1);
  put_bytes(&model, kModelTrainerSpec, trainer);

  std::string norm;
  put_bytes(&norm, kNormName, "identity");
  put_int(&norm, kNormAddDummyPrefix, 0);
  put_int(&norm, kNormRemoveExtraWs, 0);
  put_int(&norm, kNormEscapeWs, 0);
  put_bytes(&model, kModelNormalizerSpec, norm);

  std::unique_ptr<SpmModel> m(new SpmModel());
  m->sp_ = std::make_unique<sentencepiece::SentencePieceProcessor>();
  const auto status = m->sp_->LoadFromSerializedProto(model);
  if (!status.ok()) {
    if (error) *error = "libsentencepiece rejected the vocabulary: " + status.ToString();
    return nullptr;
  }
  m->n_vocab_ = static_cast<int32_t>(n);
  m->unk_id_ = unk_id;
  m->synthetic_unk_ = static_cast<int32_t>(n);
  std::sort(adjacent.begin(), adjacent.end());
  adjacent.erase(std::unique(adjacent.begin(), adjacent.end()), adjacent.end());
  m->adjacent_ = std::move(adjacent);
  return m;
}

void SpmModel::encode(std::string_view text, std::vector<int32_t>* out) const {
  // Segments shorter than this are not worth looking for a cut in (measured: 256 bytes is as
  // fast as cutting at every safe boundary, and avoids per-call overhead on short texts).
  constexpr size_t kMinSegment = 256;
  size_t seg = 0, i = 0;
  uint32_t prev = 0;
  while (i < text.size()) {
    uint32_t cp = 0;
    size_t len = 0;
    if (decode_utf8(text, i, &cp, &len) != Utf8Status::kOk) {
      cp = kReplacementChar;  // cannot happen for the caller's input; keeps the scan safe
    }
    if (i - seg >= kMinSegment && !std::binary_search(adjacent_.begin(), adjacent_.end(), static_cast<uint64_t>(prev) << 32 | cp)) {
      encode_segment(text.substr(seg, i - seg), out);
      seg = i;
    }
    prev = cp;
    i += len;
  }
  encode_segment(text.substr(seg), out);
}

void SpmModel::encode_segment(std::string_view text, std::vector<int32_t>* out) const {
  if (text.empty()) return;
  std::vector<int> ids;
  // Cannot fail for a loaded model and valid UTF-8; an error leaves ids empty.
  (void)sp_->Encode(text, &ids);
  for (int id : ids) {
    if (id == synthetic_unk_) {
      // A character with no piece and no byte pieces to spell it.
      if (unk_id_ >= 0) out->push_back(unk_id_);
      continue;
    }
    out->push_back(static_cast<int32_t>(id));
  }
}

}  // namespace qe::tok
