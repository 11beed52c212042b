// UTF-8 decoding/validation and the GPT-2 byte<->unicode mapping.
#include "unicode.h"

#include <array>

#include "tokenizer.h"

namespace qe::tok {

namespace {

bool is_cont(uint8_t b) { return (b & 0xC0) == 0x80; }

// Allowed range of the second byte for each lead byte (Unicode Table 3-7). The bytes after the
// second are always 80..BF.
struct LeadRule {
  int len;
  uint8_t lo, hi;
};

LeadRule lead_rule(uint8_t b) {
  if (b < 0x80) return {1, 0, 0};
  if (b >= 0xC2 && b <= 0xDF) return {2, 0x80, 0xBF};
  if (b == 0xE0) return {3, 0xA0, 0xBF};
  if (b >= 0xE1 && b <= 0xEC) return {3, 0x80, 0xBF};
  if (b == 0xED) return {3, 0x80, 0x9F};  // excludes surrogates D800..DFFF
  if (b >= 0xEE && b <= 0xEF) return {3, 0x80, 0xBF};
  if (b == 0xF0) return {4, 0x90, 0xBF};
  if (b >= 0xF1 && b <= 0xF3) return {4, 0x80, 0xBF};
  if (b == 0xF4) return {4, 0x80, 0x8F};  // nothing above U+10FFFF
  return {0, 0, 0};                       // 80..C1, F5..FF never start a sequence
}

}  // namespace

Utf8Status decode_utf8(std::string_view s, size_t pos, uint32_t* cp, size_t* len) {
  const auto* p = reinterpret_cast<const uint8_t*>(s.data()) + pos;
  const size_t avail = s.size() - pos;
  const LeadRule r = lead_rule(p[0]);
  if (r.len == 0) {
    *len = 1;
    return Utf8Status::kInvalid;
  }
  if (r.len == 1) {
    *cp = p[0];
    *len = 1;
    return Utf8Status::kOk;
  }
  uint32_t c = p[0] & (0x7F >> r.len);
  for (int i = 1; i < r.len; ++i) {
    if (static_cast<size_t>(i) >= avail) {
      *len = static_cast<size_t>(i);
      return Utf8Status::kTruncated;
    }
    const uint8_t b = p[i];
    const bool ok = i == 1 ? (b >= r.lo && b <= r.hi) : is_cont(b);
    if (!ok) {
      *len = static_cast<size_t>(i);
      return Utf8Status::kInvalid;
    }
    c = (c << 6) | (b & 0x3F);
  }
  *cp = c;
  *len = static_cast<size_t>(r.len);
  return Utf8Status::kOk;
}

void append_utf8(std::string* out, uint32_t cp) {
  if (cp < 0x80) {
    out->push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out->push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out->push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out->push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

std::string sanitize_utf8_lenient(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  const auto* p = reinterpret_cast<const uint8_t*>(s.data());
  const size_t n = s.size();
  size_t i = 0;
  while (i < n) {
    const uint8_t b = p[i];
    if (b < 0x80) {  // fast path: ASCII runs
      out.push_back(static_cast<char>(b));
      ++i;
      continue;
    }
    // Lenient rule: the lead announces the length, the following bytes only need to be
    // continuation bytes (overlongs pass). 0x80..0xBF and 0xF8.. cannot lead.
    int len = 0;
    if ((b & 0xE0) == 0xC0) len = 2;
    else if ((b & 0xF0) == 0xE0) len = 3;
    else if ((b & 0xF8) == 0xF0) len = 4;
    bool ok = len != 0 && i + static_cast<size_t>(len) <= n;
    uint32_t cp = 0;
    if (ok) {
      cp = b & (0x7F >> len);
      for (int k = 1; k < len; ++k) {
        if (!is_cont(p[i + k])) {
          ok = false;
          break;
        }
        cp = (cp << 6) | (p[i + k] & 0x3F);
      }
    }
    if (!ok) {
      append_utf8(&out, kReplacementChar);
      ++i;
      continue;
    }
    if ((cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF) cp = kReplacementChar;
    append_utf8(&out, cp);
    i += static_cast<size_t>(len);
  }
  return out;
}

std::string replace_invalid_utf8(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  size_t i = 0;
  while (i < s.size()) {
    uint32_t cp = 0;
    size_t len = 0;
    if (decode_utf8(s, i, &cp, &len) == Utf8Status::kOk) {
      out.append(s.substr(i, len));
    } else {
      append_utf8(&out, kReplacementChar);
    }
    i += len;
  }
  return out;
}

bool is_valid_utf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    if (static_cast<uint8_t>(s[i]) < 0x80) {
      ++i;
      continue;
    }
    uint32_t cp = 0;
    size_t len = 0;
    if (decode_utf8(s, i, &cp, &len) != Utf8Status::kOk) return false;
    i += len;
  }
  return true;
}

namespace {

struct ByteTables {
  std::array<std::string, 256> to_unicode;  // UTF-8 of the mapped code point
  std::array<int16_t, 324> from_unicode;    // code point (< 0x144) -> byte, or -1
  ByteTables() {
    from_unicode.fill(-1);
    int next = 0;
    for (int b = 0; b < 256; ++b) {
      const bool printable = (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || b >= 0xAE;
      const uint32_t cp = printable ? static_cast<uint32_t>(b) : 0x100u + next++;
      append_utf8(&to_unicode[b], cp);
      from_unicode[cp] = static_cast<int16_t>(b);
    }
  }
};

const ByteTables& byte_tables() {
  static const ByteTables t;
  return t;
}

}  // namespace

std::string_view byte_to_unicode(uint8_t b) { return byte_tables().to_unicode[b]; }

int unicode_to_byte(uint32_t cp) {
  const auto& t = byte_tables().from_unicode;
  return cp < t.size() ? t[cp] : -1;
}

}  // namespace qe::tok
