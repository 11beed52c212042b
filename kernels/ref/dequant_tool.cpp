// dequant_tool.cpp: command-line access to the reference codecs, for cross-checks against gguf-py.
//
//   qe_dequant_tool list                              one line per format: NAME id block_elems block_bytes
//   qe_dequant_tool dequantize TYPE [IN [OUT]]        raw blocks of TYPE -> float32 (little-endian)
//   qe_dequant_tool quantize   TYPE [IN [OUT]]        float32 -> raw blocks of TYPE
// IN and OUT default to stdin and stdout ("-" also means them). Exit status 0 on success, 2 on a
// usage or input error (message on stderr).
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "format/qe_format.h"
#include "ref/ref.h"

namespace {

int fail(const std::string& msg) {
  std::fprintf(stderr, "qe_dequant_tool: %s\n", msg.c_str());
  return 2;
}

const qe_type_info* find_type(const char* name) {
  for (uint32_t id = 0; id < QE_TYPE_COUNT; ++id) {
    const qe_type_info* info = qe_type_get(id);
    if (info != nullptr && std::strcmp(info->name, name) == 0) return info;
  }
  return nullptr;
}

bool read_all(const char* path, std::vector<uint8_t>* out) {
  FILE* f = (path == nullptr || std::strcmp(path, "-") == 0) ? stdin : std::fopen(path, "rb");
  if (f == nullptr) return false;
  uint8_t buf[1 << 16];
  size_t got;
  while ((got = std::fread(buf, 1, sizeof buf, f)) > 0) out->insert(out->end(), buf, buf + got);
  const bool ok = !std::ferror(f);
  if (f != stdin) std::fclose(f);
  return ok;
}

bool write_all(const char* path, const void* data, size_t n) {
  FILE* f = (path == nullptr || std::strcmp(path, "-") == 0) ? stdout : std::fopen(path, "wb");
  if (f == nullptr) return false;
  bool ok = std::fwrite(data, 1, n, f) == n;
  ok = (f == stdout ? std::fflush(f) == 0 : std::fclose(f) == 0) && ok;
  return ok;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 2 && std::strcmp(argv[1], "list") == 0) {
    for (uint32_t id = 0; id < QE_TYPE_COUNT; ++id) {
      const qe_type_info* info = qe_type_get(id);
      if (info != nullptr) std::printf("%s %u %d %d\n", info->name, id, info->block_elems, info->block_bytes);
    }
    return 0;
  }
  if (argc < 3 || argc > 5) return fail("usage: qe_dequant_tool list | {dequantize|quantize} TYPE [IN [OUT]]");
  const std::string mode = argv[1];
  const qe_type_info* info = find_type(argv[2]);
  if (info == nullptr) return fail(std::string("unknown type ") + argv[2]);
  const char* in = argc > 3 ? argv[3] : nullptr;
  const char* out = argc > 4 ? argv[4] : nullptr;

  std::vector<uint8_t> src;
  if (!read_all(in, &src)) return fail(std::string("cannot read ") + (in ? in : "stdin"));
  if (mode == "dequantize") {
    if (src.size() % static_cast<size_t>(info->block_bytes) != 0) {
      return fail(std::to_string(src.size()) + " input bytes is not a whole number of " + info->name + " blocks");
    }
    const int64_t n = static_cast<int64_t>(src.size() / info->block_bytes) * info->block_elems;
    std::vector<float> dst(static_cast<size_t>(n));
    qe::ref::dequantize_row(info->type, src.data(), dst.data(), n);
    if (!write_all(out, dst.data(), dst.size() * sizeof(float))) return fail("write failed");
    return 0;
  }
  if (mode == "quantize") {
    const size_t n = src.size() / sizeof(float);
    if (src.size() % sizeof(float) != 0 || n % static_cast<size_t>(info->block_elems) != 0) {
      return fail(std::to_string(src.size()) + " input bytes is not a whole number of " + info->name +
                  " blocks of float32");
    }
    std::vector<float> x(n);
    if (n > 0) std::memcpy(x.data(), src.data(), src.size());
    std::vector<uint8_t> dst(qe_row_bytes(info->type, static_cast<int64_t>(n)));
    if (n > 0) qe::ref::quantize_row(info->type, x.data(), dst.data(), static_cast<int64_t>(n));
    if (!write_all(out, dst.data(), dst.size())) return fail("write failed");
    return 0;
  }
  return fail("unknown mode " + mode + " (expected dequantize or quantize)");
}
