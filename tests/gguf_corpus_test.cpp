// Malformed-GGUF corpus: named corruptions of a valid file, every truncation, random byte flips, CLI.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <ostream>
#include <random>
#include <string>
#include <vector>

#include "format/qe_format.h"
#include "gguf.h"
#include "test_env.h"

namespace qe::gguf {
namespace {

namespace fs = std::filesystem;
using Bytes = std::vector<uint8_t>;

// ---------------------------------------------------------------------------------------------
// The valid base file and where its fields lie.

constexpr size_t kBaseKv = 8;       // metadata entries of the base file
constexpr size_t kBaseTensors = 4;  // tensors of the base file

Bytes random_bytes(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  Bytes b(n);
  for (auto& x : b) x = static_cast<uint8_t>(rng());
  return b;
}

// Small but complete: strings, a string array with multi-byte UTF-8, a bool and a bool array,
// general.alignment written explicitly (so cases can corrupt it), and tensors of F32, Q4_0 and
// Q8_0 whose data ends exactly at the end of the file (no trailing padding), so that every
// truncation removes bytes some tensor needs.
Status write_base(const std::string& path) {
  Writer w;
  w.set("general.architecture", Value::str("llama"));
  w.set("general.alignment", Value::u32(32));
  w.set("general.name", Value::str("corpus"));
  w.set("llama.context_length", Value::u32(128));
  w.set("tokenizer.ggml.tokens", Value::str_array({"<s>", "hé", "🦙"}));
  w.set("test.flag", Value::boolean(true));
  Value flags;
  flags.type = ValueType::kArray;
  flags.elem_type = ValueType::kBool;
  flags.v = std::vector<bool>{true, false};
  w.set("test.flags", flags);
  w.set("test.scale", Value::f32(0.5f));
  struct T {
    const char* name;
    uint32_t type;
    std::vector<uint64_t> dims;
  };
  const T tensors[kBaseTensors] = {
      {"token_embd.weight", QE_TYPE_Q4_0, {64, 2}},      // 72 bytes at 0
      {"blk.0.attn_q.weight", QE_TYPE_Q8_0, {32, 4}},    // 136 bytes at 96
      {"blk.0.attn_norm.weight", QE_TYPE_F32, {32}},     // 128 bytes at 256
      {"output_norm.weight", QE_TYPE_F32, {8, 2}},       // 64 bytes at 384
  };
  uint32_t seed = 1;
  for (const auto& t : tensors) {
    const auto rows = static_cast<size_t>(t.dims.size() > 1 ? t.dims[1] : 1);
    const Bytes data = random_bytes(qe_row_bytes(t.type, static_cast<int64_t>(t.dims[0])) * rows, seed++);
    QE_RETURN_IF_ERROR(w.add_tensor(t.name, t.type, t.dims, data));
  }
  return w.write(path);
}

struct KvAt {
  std::string key;
  uint64_t at = 0;        // key length
  uint64_t type_at = 0;   // value type
  uint64_t value_at = 0;  // value (for arrays: element type)
  uint64_t end = 0;
  uint32_t type = 0;
  uint64_t count_at = 0;  // arrays only
  uint64_t elems_at = 0;  // arrays only
};

struct TensorAt {
  std::string name;
  uint64_t at = 0;  // name length
  uint64_t n_dims_at = 0;
  std::vector<uint64_t> dim_at;
  uint64_t type_at = 0;
  uint64_t offset_at = 0;
  uint64_t offset = 0;
  uint64_t n_bytes = 0;
};

struct Layout {
  std::vector<KvAt> kv;
  std::vector<TensorAt> tensors;
  uint64_t infos_end = 0;   // first byte after the tensor infos
  uint64_t data_start = 0;  // aligned start of the data section

  const KvAt& key(std::string_view k) const {
    for (const auto& e : kv) {
      if (e.key == k) return e;
    }
    ADD_FAILURE() << "base file has no key " << k;
    return kv.front();
  }
};

template <typename T>
T get(const Bytes& b, uint64_t at) {
  T x{};
  std::memcpy(&x, b.data() + at, sizeof(T));
  return x;
}

template <typename T>
void put(Bytes& b, uint64_t at, T x) {
  std::memcpy(b.data() + at, &x, sizeof(T));
}

Bytes lp_string(std::string_view s) {  // u64 length + bytes
  Bytes b(8 + s.size());
  put<uint64_t>(b, 0, s.size());
  std::memcpy(b.data() + 8, s.data(), s.size());
  return b;
}

// Replaces bytes [at, at + len) with `with`.
Bytes splice(Bytes b, uint64_t at, uint64_t len, const Bytes& with) {
  b.erase(b.begin() + static_cast<ptrdiff_t>(at), b.begin() + static_cast<ptrdiff_t>(at + len));
  b.insert(b.begin() + static_cast<ptrdiff_t>(at), with.begin(), with.end());
  return b;
}

// Replaces the length-prefixed string whose length field is at `at`.
Bytes replace_string(const Bytes& b, uint64_t at, std::string_view s) {
  return splice(b, at, 8 + get<uint64_t>(b, at), lp_string(s));
}

uint64_t value_size(const Bytes& b, uint32_t type, uint64_t at) {
  static constexpr uint64_t kSize[] = {1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8};
  if (type == 8) return 8 + get<uint64_t>(b, at);
  if (type != 9) return kSize[type];
  const uint32_t elem = get<uint32_t>(b, at);
  const uint64_t n = get<uint64_t>(b, at + 4);
  uint64_t size = 12;
  for (uint64_t i = 0; i < n; ++i) size += value_size(b, elem, at + size);
  return size;
}

// Parses a file known to be valid (the base), recording the offset of every field.
Layout parse(const Bytes& b) {
  Layout l;
  const auto n_tensors = get<uint64_t>(b, 8), n_kv = get<uint64_t>(b, 16);
  uint64_t p = 24;
  for (uint64_t i = 0; i < n_kv; ++i) {
    KvAt e;
    e.at = p;
    const auto len = get<uint64_t>(b, p);
    e.key.assign(reinterpret_cast<const char*>(b.data() + p + 8), len);
    e.type_at = p + 8 + len;
    e.type = get<uint32_t>(b, e.type_at);
    e.value_at = e.type_at + 4;
    if (e.type == 9) {
      e.count_at = e.value_at + 4;
      e.elems_at = e.value_at + 12;
    }
    e.end = e.value_at + value_size(b, e.type, e.value_at);
    p = e.end;
    l.kv.push_back(e);
  }
  for (uint64_t i = 0; i < n_tensors; ++i) {
    TensorAt t;
    t.at = p;
    const auto len = get<uint64_t>(b, p);
    t.name.assign(reinterpret_cast<const char*>(b.data() + p + 8), len);
    t.n_dims_at = p + 8 + len;
    const auto n_dims = get<uint32_t>(b, t.n_dims_at);
    p = t.n_dims_at + 4;
    uint64_t n_el = 1;
    for (uint32_t d = 0; d < n_dims; ++d, p += 8) {
      t.dim_at.push_back(p);
      n_el *= get<uint64_t>(b, p);
    }
    t.type_at = p;
    t.offset_at = p + 4;
    t.offset = get<uint64_t>(b, t.offset_at);
    const qe_type_info* info = qe_type_get(get<uint32_t>(b, t.type_at));
    t.n_bytes = n_el / static_cast<uint64_t>(info->block_elems) * static_cast<uint64_t>(info->block_bytes);
    p = t.offset_at + 8;
    l.tensors.push_back(t);
  }
  l.infos_end = p;
  l.data_start = (p + 31) / 32 * 32;
  return l;
}

Bytes read_bytes(const fs::path& p) {
  std::ifstream is(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(is), std::istreambuf_iterator<char>()};
}

void write_bytes(const fs::path& p, const Bytes& b) {
  std::ofstream os(p, std::ios::binary | std::ios::trunc);
  os.write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
}

// Each test writes the base file into its own directory, removed afterwards.
class CorpusTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    std::string name = std::string(info->test_suite_name()) + "_" + info->name();
    for (auto& c : name) {
      if (c == '/') c = '_';
    }
    dir_ = fs::temp_directory_path() / ("qe_gguf_corpus_" + std::to_string(::getpid()) + "_" + name);
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    const std::string base_path = path("base.gguf");
    ASSERT_TRUE(write_base(base_path).is_ok());
    base_ = read_bytes(base_path);
    layout_ = parse(base_);
    ASSERT_EQ(layout_.kv.size(), kBaseKv);
    ASSERT_EQ(layout_.tensors.size(), kBaseTensors);
    ASSERT_EQ(layout_.tensors.back().offset + layout_.tensors.back().n_bytes + layout_.data_start,
              base_.size());  // no trailing padding: every truncation cuts tensor data
    auto f = File::open(base_path);
    ASSERT_TRUE(f.is_ok()) << f.status().message();
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string path(const std::string& name) const { return (dir_ / name).string(); }

  fs::path dir_;
  Bytes base_;
  Layout layout_;
};

TEST_F(CorpusTest, BaseFileLoads) {
  auto f = File::open(path("base.gguf"));
  ASSERT_TRUE(f.is_ok()) << f.status().message();
  EXPECT_EQ((*f)->metadata().size(), kBaseKv);
  ASSERT_EQ((*f)->tensors().size(), kBaseTensors);
  EXPECT_EQ(**(*f)->get_string_array("tokenizer.ggml.tokens"),
            (std::vector<std::string>{"<s>", "hé", "🦙"}));
  for (size_t i = 0; i < kBaseTensors; ++i) {
    EXPECT_EQ((*f)->tensors()[i].name, layout_.tensors[i].name);
    EXPECT_EQ((*f)->tensors()[i].offset, layout_.tensors[i].offset);
    EXPECT_EQ((*f)->tensors()[i].n_bytes, layout_.tensors[i].n_bytes);
  }
}

// ---------------------------------------------------------------------------------------------
// Named cases.

enum class Kind { kBytes, kDirectory, kFifo, kMissing };

struct Case {
  std::string name;
  std::function<Bytes(const Bytes& base, const Layout& l)> make;  // the corrupt file (kBytes)
  std::string want;  // '|'-separated alternatives; the message must contain one of them
  Code code = Code::kBadFormat;
  Kind kind = Kind::kBytes;
};

void PrintTo(const Case& c, std::ostream* os) { *os << c.name; }

// Patches one field in place.
template <typename T>
std::function<Bytes(const Bytes&, const Layout&)> patch(std::function<uint64_t(const Layout&)> at, T value) {
  return [at, value](const Bytes& base, const Layout& l) {
    Bytes b = base;
    put<T>(b, at(l), value);
    return b;
  };
}

Bytes truncate(const Bytes& b, uint64_t n) { return Bytes(b.begin(), b.begin() + static_cast<ptrdiff_t>(n)); }

std::vector<Case> truncation_cases() {
  // Whatever the cut, the message says the data is missing in one of these ways.
  const std::string want = "truncated|cannot fit|does not fit|exceeds|past the end|too short";
  std::vector<Case> cases;
  auto add = [&](std::string name, std::function<uint64_t(const Layout&)> at) {
    cases.push_back({"truncated_" + std::move(name),
                     [at](const Bytes& b, const Layout& l) { return truncate(b, at(l)); }, want});
  };
  add("in_magic", [](const Layout&) { return 2; });
  add("after_magic", [](const Layout&) { return 4; });
  add("in_version", [](const Layout&) { return 6; });
  add("after_version", [](const Layout&) { return 8; });
  add("after_tensor_count", [](const Layout&) { return 16; });
  add("after_header", [](const Layout&) { return 24; });
  add("in_first_key_length", [](const Layout&) { return 28; });
  for (size_t i = 0; i < kBaseKv; ++i) {
    const std::string n = std::to_string(i);
    add("at_kv_" + n, [i](const Layout& l) { return l.kv[i].at; });
    add("in_key_" + n, [i](const Layout& l) { return l.kv[i].at + 9; });
    add("at_value_type_" + n, [i](const Layout& l) { return l.kv[i].type_at; });
    add("in_value_" + n, [i](const Layout& l) { return l.kv[i].value_at + 1; });
  }
  add("in_array_elements", [](const Layout& l) { return l.key("tokenizer.ggml.tokens").elems_at + 10; });
  for (size_t i = 0; i < kBaseTensors; ++i) {
    const std::string n = std::to_string(i);
    add("at_tensor_info_" + n, [i](const Layout& l) { return l.tensors[i].at; });
    add("in_tensor_name_" + n, [i](const Layout& l) { return l.tensors[i].at + 10; });
    add("in_dims_" + n, [i](const Layout& l) { return l.tensors[i].dim_at[0] + 3; });
    add("at_tensor_type_" + n, [i](const Layout& l) { return l.tensors[i].type_at; });
    add("in_tensor_offset_" + n, [i](const Layout& l) { return l.tensors[i].offset_at + 4; });
    add("at_tensor_data_" + n, [i](const Layout& l) { return l.data_start + l.tensors[i].offset; });
    add("in_tensor_data_" + n,
        [i](const Layout& l) { return l.data_start + l.tensors[i].offset + l.tensors[i].n_bytes / 2; });
  }
  add("at_end_of_tensor_infos", [](const Layout& l) { return l.infos_end; });
  add("in_padding_before_data", [](const Layout& l) { return l.infos_end + 1; });
  add("last_byte_missing", [](const Layout& l) { return l.data_start + l.tensors.back().offset +
                                                        l.tensors.back().n_bytes - 1; });
  return cases;
}

using At = std::function<uint64_t(const Layout&)>;

At kv_field(std::string key, uint64_t KvAt::*field, uint64_t plus = 0) {
  return [key = std::move(key), field, plus](const Layout& l) { return l.key(key).*field + plus; };
}

At tensor_field(size_t i, uint64_t TensorAt::*field) {
  return [i, field](const Layout& l) { return l.tensors[i].*field; };
}

At dim(size_t i, size_t d) {
  return [i, d](const Layout& l) { return l.tensors[i].dim_at[d]; };
}

// Replaces the key of entry `key` with `with`.
std::function<Bytes(const Bytes&, const Layout&)> rename_key(std::string key, std::string with) {
  return [key = std::move(key), with = std::move(with)](const Bytes& b, const Layout& l) {
    return replace_string(b, l.key(key).at, with);
  };
}

std::function<Bytes(const Bytes&, const Layout&)> rename_tensor(size_t i, std::string with) {
  return [i, with = std::move(with)](const Bytes& b, const Layout& l) {
    return replace_string(b, l.tensors[i].at, with);
  };
}

// Replaces the type and value of `key` with raw bytes (type first).
std::function<Bytes(const Bytes&, const Layout&)> retype(std::string key, Bytes type_and_value) {
  return [key = std::move(key), tv = std::move(type_and_value)](const Bytes& b, const Layout& l) {
    const KvAt& e = l.key(key);
    return splice(b, e.type_at, e.end - e.type_at, tv);
  };
}

Bytes u32_le(uint32_t x) {
  Bytes b(4);
  put<uint32_t>(b, 0, x);
  return b;
}

Bytes cat(Bytes a, const Bytes& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

std::vector<Case> corpus() {
  constexpr uint64_t kHuge = uint64_t{1} << 40;
  constexpr uint64_t kMax = ~uint64_t{0};
  const At magic = [](const Layout&) { return 0; };
  const At version = [](const Layout&) { return 4; };
  const At tensor_count = [](const Layout&) { return 8; };
  const At kv_count = [](const Layout&) { return 16; };
  const At key0_length = [](const Layout& l) { return l.kv[0].at; };
  const At tokens_count = kv_field("tokenizer.ggml.tokens", &KvAt::count_at);
  const At tokens_elem_type = kv_field("tokenizer.ggml.tokens", &KvAt::value_at);
  const At last_offset = [](const Layout& l) { return l.tensors.back().offset_at; };

  std::vector<Case> c = truncation_cases();
  auto add = [&](std::string name, std::function<Bytes(const Bytes&, const Layout&)> make, std::string want) {
    c.push_back({std::move(name), std::move(make), std::move(want)});
  };
  auto offset_to = [](size_t i, std::function<uint64_t(const Layout&)> value) {
    return [i, value](const Bytes& base, const Layout& l) {
      Bytes b = base;
      put<uint64_t>(b, l.tensors[i].offset_at, value(l));
      return b;
    };
  };

  // Header.
  add("bad_magic", patch<uint32_t>(magic, 0x58554747), "magic");  // "GGUX"
  add("lowercase_magic", patch<uint32_t>(magic, 0x66756767), "magic");  // "gguf"
  add("version_0", patch<uint32_t>(version, 0), "version");
  add("version_1", patch<uint32_t>(version, 1), "version");
  add("version_4", patch<uint32_t>(version, 4), "version");
  add("version_ffffffff", patch<uint32_t>(version, 0xFFFFFFFF), "version");
  add("huge_tensor_count", patch<uint64_t>(tensor_count, kHuge), "tensor count");
  add("max_tensor_count", patch<uint64_t>(tensor_count, kMax), "tensor count");
  add("huge_kv_count", patch<uint64_t>(kv_count, kHuge), "metadata count");
  add("max_kv_count", patch<uint64_t>(kv_count, kMax), "metadata count");

  // Strings and arrays.
  add("huge_key_length", patch<uint64_t>(key0_length, kHuge), "string length");
  add("max_key_length", patch<uint64_t>(key0_length, kMax), "string length");
  add("huge_string_value_length", patch<uint64_t>(kv_field("general.name", &KvAt::value_at), kHuge),
      "string length");
  add("huge_string_in_array", patch<uint64_t>(kv_field("tokenizer.ggml.tokens", &KvAt::elems_at), kHuge),
      "string length");
  add("huge_tensor_name_length", patch<uint64_t>(tensor_field(1, &TensorAt::at), kHuge), "string length");
  add("huge_array_count", patch<uint64_t>(tokens_count, kHuge), "array length");
  add("array_count_bytes_overflow", patch<uint64_t>(tokens_count, uint64_t{1} << 61), "array length");
  add("huge_bool_array_count", patch<uint64_t>(kv_field("test.flags", &KvAt::count_at), kHuge),
      "array length");
  add("array_of_arrays", patch<uint32_t>(tokens_elem_type, 9), "nested arrays");
  add("unknown_value_type_13", patch<uint32_t>(kv_field("general.name", &KvAt::type_at), 13),
      "unknown value type");
  add("unknown_value_type_ffffffff", patch<uint32_t>(kv_field("general.name", &KvAt::type_at), 0xFFFFFFFF),
      "unknown value type");
  add("unknown_array_element_type", patch<uint32_t>(tokens_elem_type, 13), "unknown value type");

  // Keys.
  add("duplicate_key", rename_key("general.name", "general.architecture"), "duplicate key");
  add("duplicate_key_last", rename_key("test.scale", "test.flag"), "duplicate key");
  add("empty_key", rename_key("general.name", ""), "empty key");
  add("key_bad_utf8_byte_ff", rename_key("general.name", "general.\xFFname"), "UTF-8");
  add("key_lone_continuation_byte", rename_key("general.name", "\x80name"), "UTF-8");
  add("key_overlong_utf8", rename_key("general.name", "a\xC0\x80"), "UTF-8");
  add("key_utf16_surrogate", rename_key("general.name", "a\xED\xA0\x80"), "UTF-8");
  add("key_utf8_cut_at_end", rename_key("general.name", "ab\xE2\x82"), "UTF-8");
  add("key_above_u10ffff", rename_key("general.name", "\xF4\x90\x80\x80"), "UTF-8");

  // Values.
  add("bool_value_2", patch<uint8_t>(kv_field("test.flag", &KvAt::value_at), 2), "bool value 2");
  add("bool_array_value_255", patch<uint8_t>(kv_field("test.flags", &KvAt::elems_at, 1), 255), "bool value 255");
  const At alignment_value = kv_field("general.alignment", &KvAt::value_at);
  add("alignment_0", patch<uint32_t>(alignment_value, 0), "general.alignment = 0");
  add("alignment_3", patch<uint32_t>(alignment_value, 3), "general.alignment = 3");
  add("alignment_48", patch<uint32_t>(alignment_value, 48), "general.alignment = 48");
  add("alignment_2_mib", patch<uint32_t>(alignment_value, 2u << 20), "general.alignment = 2097152");
  add("alignment_type_int32", patch<uint32_t>(kv_field("general.alignment", &KvAt::type_at), 5),
      "'general.alignment' has type int32");
  add("alignment_type_string", retype("general.alignment", cat(u32_le(8), lp_string("32"))),
      "'general.alignment' has type string");
  add("alignment_type_uint64", retype("general.alignment", cat(u32_le(10), Bytes{32, 0, 0, 0, 0, 0, 0, 0})),
      "'general.alignment' has type uint64");
  add("alignment_type_array", retype("general.alignment", cat(cat(u32_le(9), u32_le(4)), Bytes(8, 0))),
      "'general.alignment' has type array of uint32");

  // Tensor infos.
  add("duplicate_tensor_name", rename_tensor(2, "token_embd.weight"), "duplicate tensor name");
  add("empty_tensor_name", rename_tensor(1, ""), "empty tensor name");
  add("tensor_name_bad_utf8", rename_tensor(1, "blk.0.\xFE"), "UTF-8");
  add("tensor_name_utf8_cut", rename_tensor(3, "norm\xF0\x9F\xA6"), "UTF-8");
  add("tensor_type_99", patch<uint32_t>(tensor_field(0, &TensorAt::type_at), 99), "tensor type 99");
  add("tensor_type_4_removed", patch<uint32_t>(tensor_field(1, &TensorAt::type_at), 4), "tensor type 4");
  add("tensor_type_5_removed", patch<uint32_t>(tensor_field(1, &TensorAt::type_at), 5), "tensor type 5");
  add("tensor_type_ffffffff", patch<uint32_t>(tensor_field(3, &TensorAt::type_at), 0xFFFFFFFF), "tensor type");
  add("n_dims_0", patch<uint32_t>(tensor_field(0, &TensorAt::n_dims_at), 0), "0 dimensions");
  add("n_dims_5", patch<uint32_t>(tensor_field(0, &TensorAt::n_dims_at), 5), "5 dimensions");
  add("n_dims_ffffffff", patch<uint32_t>(tensor_field(2, &TensorAt::n_dims_at), 0xFFFFFFFF), "dimensions");
  add("zero_dimension", patch<uint64_t>(dim(1, 1), 0), "dimension 1");
  add("zero_row_length", patch<uint64_t>(dim(2, 0), 0), "dimension 0");
  add("dimension_above_2_62", patch<uint64_t>(dim(2, 0), uint64_t{1} << 63), "out of range");
  add("dims_product_overflows",
      [](const Bytes& base, const Layout& l) {
        Bytes b = base;
        put<uint64_t>(b, l.tensors[0].dim_at[0], uint64_t{1} << 40);
        put<uint64_t>(b, l.tensors[0].dim_at[1], uint64_t{1} << 40);
        return b;
      },
      "element count overflows");
  add("byte_size_overflows",
      [](const Bytes& base, const Layout& l) {
        Bytes b = base;  // F32: 2^62 elements fit, 2^64 bytes do not
        put<uint64_t>(b, l.tensors[3].dim_at[0], uint64_t{1} << 61);
        put<uint64_t>(b, l.tensors[3].dim_at[1], 2);
        return b;
      },
      "byte size overflows");
  add("row_not_multiple_of_q4_0_block", patch<uint64_t>(dim(0, 0), 48), "block size 32");
  add("row_not_multiple_of_q8_0_block", patch<uint64_t>(dim(1, 0), 33), "block size 32");

  // Tensor data extents.
  add("offset_not_aligned", offset_to(1, [](const Layout& l) { return l.tensors[1].offset + 1; }),
      "not a multiple of the alignment");
  add("offset_aligned_to_16_only", offset_to(2, [](const Layout& l) { return l.tensors[2].offset + 16; }),
      "not a multiple of the alignment");
  add("offset_past_end", patch<uint64_t>(last_offset, kHuge), "past the end");
  add("offset_plus_size_past_end", offset_to(3, [](const Layout& l) { return l.tensors[3].offset + 32; }),
      "past the end");
  add("offset_wraps_around", patch<uint64_t>(last_offset, kMax - 31), "past the end");
  add("overlap_same_offset", offset_to(1, [](const Layout& l) { return l.tensors[0].offset; }), "overlap");
  add("overlap_partial", offset_to(2, [](const Layout& l) { return l.tensors[1].offset + 32; }), "overlap");
  add("overlap_contained", offset_to(3, [](const Layout& l) { return l.tensors[2].offset + 32; }), "overlap");

  // Not a GGUF file at all.
  add("empty_file", [](const Bytes&, const Layout&) { return Bytes{}; }, "too short");
  add("three_bytes", [](const Bytes&, const Layout&) { return Bytes{'G', 'G', 'U'}; }, "too short");
  add("text_file", [](const Bytes&, const Layout&) {
    const std::string s = "this is not a model\n";
    return Bytes(s.begin(), s.end());
  }, "magic");
  c.push_back({"directory", nullptr, "not a regular file", Code::kIoError, Kind::kDirectory});
  // A FIFO must be rejected, not waited on for a writer that never comes.
  c.push_back({"fifo", nullptr, "not a regular file", Code::kIoError, Kind::kFifo});
  c.push_back({"nonexistent_path", nullptr, "cannot open", Code::kIoError, Kind::kMissing});
  return c;
}

class CorpusCaseTest : public CorpusTest, public ::testing::WithParamInterface<Case> {
 protected:
  // Creates the case's file (or directory) and returns its path.
  std::string make(const Case& c) {
    const std::string p = path(c.name + ".gguf");
    switch (c.kind) {
      case Kind::kBytes: write_bytes(p, c.make(base_, layout_)); break;
      case Kind::kDirectory: fs::create_directories(p); break;
      case Kind::kFifo: EXPECT_EQ(::mkfifo(p.c_str(), 0600), 0) << p; break;
      case Kind::kMissing: break;
    }
    return p;
  }
};

bool contains_any(const std::string& msg, const std::string& alternatives) {
  size_t begin = 0;
  while (begin <= alternatives.size()) {
    size_t end = alternatives.find('|', begin);
    if (end == std::string::npos) end = alternatives.size();
    if (msg.find(alternatives.substr(begin, end - begin)) != std::string::npos) return true;
    begin = end + 1;
  }
  return false;
}

TEST_P(CorpusCaseTest, FailsWithAMessageNamingFileAndProblem) {
  const Case& c = GetParam();
  const std::string p = make(c);
  auto f = File::open(p);
  ASSERT_FALSE(f.is_ok()) << c.name << " loaded";
  const std::string msg = f.status().message();
  EXPECT_EQ(f.status().code(), c.code) << msg;
  EXPECT_NE(msg.find(p), std::string::npos) << "message does not name the file: " << msg;
  EXPECT_TRUE(contains_any(msg, c.want)) << "expected '" << c.want << "' in: " << msg;
}

INSTANTIATE_TEST_SUITE_P(Gguf, CorpusCaseTest, ::testing::ValuesIn(corpus()),
                         [](const ::testing::TestParamInfo<Case>& p) { return p.param.name; });

TEST(CorpusSize, AtLeastFortyCases) { EXPECT_GE(corpus().size(), 40u); }

// ---------------------------------------------------------------------------------------------
// Every truncation and random byte flips: an error or a clean load, never a crash.

TEST_F(CorpusTest, EveryTruncationFails) {
  const std::string p = path("cut.gguf");
  for (uint64_t n = 0; n < base_.size(); ++n) {
    write_bytes(p, truncate(base_, n));
    auto f = File::open(p);
    ASSERT_FALSE(f.is_ok()) << "truncated to " << n << " of " << base_.size() << " bytes, it loaded";
    EXPECT_EQ(f.status().code(), Code::kBadFormat) << n;
    EXPECT_NE(f.status().message().find(p), std::string::npos) << n << ": " << f.status().message();
  }
}

TEST_F(CorpusTest, RandomByteFlipsLoadOrFailCleanly) {
  const std::string p = path("flip.gguf");
  std::mt19937_64 rng(20240601);
  int loaded = 0, failed = 0;
  for (int iter = 0; iter < 2000; ++iter) {
    Bytes b = base_;
    const int n_flips = 1 + static_cast<int>(rng() % 4);
    for (int k = 0; k < n_flips; ++k) {
      // Three in four flips hit the header, metadata and tensor infos, where parsing happens.
      const uint64_t limit = rng() % 4 != 0 ? layout_.data_start : b.size();
      const uint64_t at = rng() % limit;
      switch (rng() % 3) {
        case 0: b[at] ^= static_cast<uint8_t>(1 + rng() % 255); break;
        case 1: b[at] = 0xFF; break;
        default: b[at] = 0x00; break;
      }
    }
    write_bytes(p, b);
    auto f = File::open(p);
    if (f.is_ok()) {
      ++loaded;
      // Touch every byte the reader handed out: it must lie inside the mapping.
      uint64_t sum = 0;
      for (const auto& t : (*f)->tensors()) {
        ASSERT_NE(t.data, nullptr);
        ASSERT_LE(t.n_bytes, (*f)->file_size());
        for (uint64_t i = 0; i < t.n_bytes; ++i) sum += t.data[i];
      }
      for (const auto& kv : (*f)->metadata()) sum += kv.first.size();
      volatile uint64_t sink = sum;  // keep the reads from being optimized away
      (void)sink;
    } else {
      ++failed;
      const std::string msg = f.status().message();
      ASSERT_EQ(f.status().code(), Code::kBadFormat) << "iteration " << iter << ": " << msg;
      ASSERT_NE(msg.find(p), std::string::npos) << "iteration " << iter << ": " << msg;
    }
  }
  EXPECT_GT(failed, 0);
  EXPECT_GT(loaded, 0);
  RecordProperty("loaded", loaded);
  RecordProperty("failed", failed);
}

// ---------------------------------------------------------------------------------------------
// The CLI reports the same errors: "qengine: error: ..." naming the file, exit status 1.

TEST_F(CorpusTest, CliInfoReportsBadFiles) {
  const std::string qengine_path = qe::test::qengine_binary();
  if (qengine_path.empty()) GTEST_SKIP() << "QE_QENGINE is not set";
  const char* qengine = qengine_path.c_str();
  const std::vector<std::string> names = {"bad_magic", "version_4", "truncated_in_tensor_data_1",
                                          "overlap_partial", "key_bad_utf8_byte_ff", "empty_file"};
  const std::vector<Case> all = corpus();
  for (const auto& name : names) {
    SCOPED_TRACE(name);
    const Case* c = nullptr;
    for (const auto& e : all) {
      if (e.name == name) c = &e;
    }
    ASSERT_NE(c, nullptr);
    const std::string file = path(name + ".gguf");
    write_bytes(file, c->make(base_, layout_));
    const std::string err = path(name + ".stderr");
    const std::string cmd = "'" + std::string(qengine) + "' info '" + file + "' >/dev/null 2>'" + err + "'";
    const int status = std::system(cmd.c_str());
    ASSERT_TRUE(WIFEXITED(status)) << cmd;
    EXPECT_EQ(WEXITSTATUS(status), 1) << cmd;
    const Bytes out = read_bytes(err);
    const std::string text(out.begin(), out.end());
    EXPECT_NE(text.find("qengine: error:"), std::string::npos) << text;
    EXPECT_NE(text.find(name + ".gguf"), std::string::npos) << text;
  }
}

}  // namespace
}  // namespace qe::gguf
