// UTF-8 decoding/validation and the GPT-2 byte<->unicode mapping (tokenizer-internal).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace qe::tok {

inline constexpr uint32_t kReplacementChar = 0xFFFD;

// Sequence length implied by a lead byte, the way both llama.cpp and SentencePiece split text
// into symbols: 0x00-0xBF -> 1, 0xC0-0xDF -> 2, 0xE0-0xEF -> 3, 0xF0-0xFF -> 4.
inline int utf8_len_from_lead(uint8_t b) {
  static constexpr uint8_t kLen[16] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 3, 4};
  return kLen[b >> 4];
}

enum class Utf8Status { kOk, kInvalid, kTruncated };

// Strict decode of the sequence at s[pos] (Unicode Table 3-7: no overlongs, no surrogates,
// nothing above U+10FFFF). kOk: *cp and *len set. kInvalid: *len is the length of the maximal
// ill-formed subpart (>= 1), the bytes one U+FFFD replaces. kTruncated: s ends inside a sequence
// that could still become valid; *len is the number of bytes present.
Utf8Status decode_utf8(std::string_view s, size_t pos, uint32_t* cp, size_t* len);

void append_utf8(std::string* out, uint32_t cp);

// llama.cpp's lenient decode-and-re-encode used by its BPE path: a byte that does not start a
// well-formed (possibly overlong) sequence becomes one U+FFFD; overlongs are re-encoded
// canonically. Surrogates and code points above U+10FFFF also become U+FFFD so the result is
// always valid UTF-8 (PCRE2 needs that).
std::string sanitize_utf8_lenient(std::string_view s);

// Replace every ill-formed subpart with U+FFFD (the Unicode "maximal subpart" practice).
std::string replace_invalid_utf8(std::string_view s);

// GPT-2 byte-level alphabet: bytes that are printable latin-1 map to themselves, the other 68 to
// U+0100 + k in byte order. byte_to_unicode returns the UTF-8 of the mapped code point.
std::string_view byte_to_unicode(uint8_t b);
// Inverse; -1 when the code point is not part of the alphabet.
int unicode_to_byte(uint32_t cp);

}  // namespace qe::tok
