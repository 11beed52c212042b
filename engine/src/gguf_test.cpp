// Tests for the GGUF writer and reader: value and tensor round trips, alignment, getters, v2, zero-copy.
#include "gguf.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "format/qe_format.h"

namespace qe::gguf {
namespace {

namespace fs = std::filesystem;

std::vector<uint8_t> read_bytes(const fs::path& p) {
  std::ifstream is(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(is), std::istreambuf_iterator<char>()};
}

void write_bytes(const fs::path& p, const std::vector<uint8_t>& b) {
  std::ofstream os(p, std::ios::binary | std::ios::trunc);
  os.write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
}

std::vector<uint8_t> random_bytes(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<uint8_t> b(n);
  for (auto& x : b) x = static_cast<uint8_t>(rng());
  return b;
}

// A value of any on-disk scalar type (the convenience constructors cover only the common ones).
template <typename T>
Value scalar(ValueType t, T x) {
  Value v;
  v.type = t;
  v.v = x;
  return v;
}

template <typename T>
Value array(ValueType elem, std::vector<T> x) {
  Value v;
  v.type = ValueType::kArray;
  v.elem_type = elem;
  v.v = std::move(x);
  return v;
}

// Each test writes into its own directory, removed afterwards.
class GgufTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = fs::temp_directory_path() /
           ("qe_gguf_test_" + std::to_string(::getpid()) + "_" + info->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string path(const std::string& name) const { return (dir_ / name).string(); }

  std::unique_ptr<File> open_ok(const std::string& p) {
    auto f = File::open(p);
    EXPECT_TRUE(f.is_ok()) << f.status().message();
    return f.is_ok() ? std::move(f).value() : nullptr;
  }

  fs::path dir_;
};

// Every scalar type, every array element type (including empty arrays) and multi-byte UTF-8.
std::vector<std::pair<std::string, Value>> all_values() {
  return {
      {"t.u8", scalar(ValueType::kUint8, uint64_t{250})},
      {"t.i8", scalar(ValueType::kInt8, int64_t{-120})},
      {"t.u16", scalar(ValueType::kUint16, uint64_t{65000})},
      {"t.i16", scalar(ValueType::kInt16, int64_t{-32000})},
      {"t.u32", Value::u32(4000000000u)},
      {"t.i32", Value::i32(-2000000000)},
      {"t.f32", Value::f32(0.1f)},
      {"t.bool_true", Value::boolean(true)},
      {"t.bool_false", Value::boolean(false)},
      {"t.str", Value::str("héllo wörld — 日本語 🦙")},
      {"t.str_empty", Value::str("")},
      {"t.u64", Value::u64(0xFEDCBA9876543210ull)},
      {"t.i64", scalar(ValueType::kInt64, int64_t{-0x7EDCBA9876543210ll})},
      {"t.f64", scalar(ValueType::kFloat64, 3.141592653589793238)},
      {"a.u8", array(ValueType::kUint8, std::vector<uint64_t>{0, 1, 255})},
      {"a.i8", array(ValueType::kInt8, std::vector<int64_t>{-128, 0, 127})},
      {"a.u16", array(ValueType::kUint16, std::vector<uint64_t>{0, 65535})},
      {"a.i16", array(ValueType::kInt16, std::vector<int64_t>{-32768, 32767})},
      {"a.u32", array(ValueType::kUint32, std::vector<uint64_t>{0, 4294967295u})},
      {"a.i32", Value::i32_array({-2147483647 - 1, 0, 2147483647})},
      {"a.f32", Value::f32_array({1.5f, -0.0f, 1e-30f})},
      {"a.bool", array(ValueType::kBool, std::vector<bool>{true, false, true})},
      {"a.str", Value::str_array({"a", "", "ünïcödé", "🦙🦙", "\xe2\x80\x94"})},
      {"a.u64", array(ValueType::kUint64, std::vector<uint64_t>{0, ~uint64_t{0}})},
      {"a.i64", array(ValueType::kInt64, std::vector<int64_t>{INT64_MIN, INT64_MAX})},
      {"a.f64", array(ValueType::kFloat64, std::vector<double>{1e300, -2.5})},
      {"e.u8", array(ValueType::kUint8, std::vector<uint64_t>{})},
      {"e.i16", array(ValueType::kInt16, std::vector<int64_t>{})},
      {"e.u32", array(ValueType::kUint32, std::vector<uint64_t>{})},
      {"e.i32", Value::i32_array({})},
      {"e.f32", Value::f32_array({})},
      {"e.bool", array(ValueType::kBool, std::vector<bool>{})},
      {"e.str", Value::str_array({})},
      {"e.u64", array(ValueType::kUint64, std::vector<uint64_t>{})},
      {"e.i64", array(ValueType::kInt64, std::vector<int64_t>{})},
      {"e.f64", array(ValueType::kFloat64, std::vector<double>{})},
      {"ключ.日本", Value::str("multi-byte UTF-8 key")},
  };
}

TEST_F(GgufTest, EveryValueTypeRoundTrips) {
  Writer w;
  const auto values = all_values();
  for (const auto& [k, v] : values) w.set(k, v);
  ASSERT_TRUE(w.write(path("v.gguf")).is_ok());
  auto f = open_ok(path("v.gguf"));
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(f->version(), 3u);
  EXPECT_EQ(f->alignment(), 32u);
  EXPECT_TRUE(f->tensors().empty());
  ASSERT_EQ(f->metadata().size(), values.size());
  for (size_t i = 0; i < values.size(); ++i) {
    const auto& [key, want] = values[i];
    SCOPED_TRACE(key);
    EXPECT_EQ(f->metadata()[i].first, key);  // order is preserved
    const Value* got = f->find(key);
    ASSERT_NE(got, nullptr);
    EXPECT_EQ(got->type, want.type);
    if (want.type == ValueType::kArray) {
      EXPECT_EQ(got->elem_type, want.elem_type);
    }
    EXPECT_EQ(got->v, want.v);  // exact: f32 values were widened from float on both sides
  }
  EXPECT_EQ(f->find("absent"), nullptr);
}

TEST_F(GgufTest, TypedGetters) {
  Writer w;
  for (const auto& [k, v] : all_values()) w.set(k, v);
  ASSERT_TRUE(w.write(path("g.gguf")).is_ok());
  auto f = open_ok(path("g.gguf"));
  ASSERT_NE(f, nullptr);

  // Integers of every width and signedness read as int64.
  EXPECT_EQ(**f->get_int("t.u8"), 250);
  EXPECT_EQ(**f->get_int("t.i8"), -120);
  EXPECT_EQ(**f->get_int("t.u16"), 65000);
  EXPECT_EQ(**f->get_int("t.i16"), -32000);
  EXPECT_EQ(**f->get_int("t.u32"), 4000000000);
  EXPECT_EQ(**f->get_int("t.i32"), -2000000000);
  EXPECT_EQ(**f->get_int("t.i64"), -0x7EDCBA9876543210ll);
  // A uint64 above INT64_MAX does not fit: an error naming the key, not a wrapped value.
  {
    auto r = f->get_int("t.u64");
    ASSERT_FALSE(r.is_ok());
    EXPECT_NE(r.status().message().find("t.u64"), std::string::npos) << r.status().message();
  }
  // Floats; integers widen to double.
  EXPECT_EQ(**f->get_float("t.f32"), double{0.1f});
  EXPECT_EQ(**f->get_float("t.f64"), 3.141592653589793238);
  EXPECT_EQ(**f->get_float("t.u32"), 4000000000.0);
  EXPECT_EQ(**f->get_bool("t.bool_true"), true);
  EXPECT_EQ(**f->get_bool("t.bool_false"), false);
  EXPECT_EQ(**f->get_string("t.str"), "héllo wörld — 日本語 🦙");
  EXPECT_EQ(**f->get_string("t.str_empty"), "");
  EXPECT_EQ(**f->get_string_array("a.str"),
            (std::vector<std::string>{"a", "", "ünïcödé", "🦙🦙", "\xe2\x80\x94"}));
  EXPECT_TRUE(f->get_string_array("e.str")->value().empty());
  EXPECT_EQ(**f->get_float_array("a.f32"), (std::vector<double>{1.5, -0.0, double{1e-30f}}));
  EXPECT_EQ(**f->get_float_array("a.f64"), (std::vector<double>{1e300, -2.5}));
  EXPECT_EQ(**f->get_int_array("a.i32"), (std::vector<int64_t>{INT32_MIN, 0, INT32_MAX}));
  EXPECT_EQ(**f->get_int_array("a.u16"), (std::vector<int64_t>{0, 65535}));
  EXPECT_EQ(**f->get_int_array("a.i64"), (std::vector<int64_t>{INT64_MIN, INT64_MAX}));
  EXPECT_TRUE(f->get_int_array("e.u32")->value().empty());
  {
    auto r = f->get_int_array("a.u64");  // holds 2^64-1
    ASSERT_FALSE(r.is_ok());
    EXPECT_NE(r.status().message().find("a.u64"), std::string::npos) << r.status().message();
  }

  // Absent keys: std::nullopt, not an error.
  EXPECT_FALSE(f->get_int("nope")->has_value());
  EXPECT_FALSE(f->get_float("nope")->has_value());
  EXPECT_FALSE(f->get_bool("nope")->has_value());
  EXPECT_FALSE(f->get_string("nope")->has_value());
  EXPECT_FALSE(f->get_string_array("nope")->has_value());
  EXPECT_FALSE(f->get_float_array("nope")->has_value());
  EXPECT_FALSE(f->get_int_array("nope")->has_value());

  // Wrong types: an error that names the file, the key and the type found.
  struct WrongType {
    const char* key;
    Status status;
    const char* found;
  };
  const WrongType wrong[] = {
      {"t.str", f->get_int("t.str").status(), "string"},
      {"t.bool_true", f->get_float("t.bool_true").status(), "bool"},
      {"t.u32", f->get_bool("t.u32").status(), "uint32"},
      {"a.str", f->get_string("a.str").status(), "array of string"},
      {"a.i32", f->get_string_array("a.i32").status(), "array of int32"},
      {"a.str", f->get_float_array("a.str").status(), "array of string"},
      {"a.f32", f->get_int_array("a.f32").status(), "array of float32"},
      {"t.f32", f->get_int("t.f32").status(), "float32"},
      {"t.i32", f->get_string("t.i32").status(), "int32"},
  };
  for (const auto& c : wrong) {
    SCOPED_TRACE(c.key);
    ASSERT_FALSE(c.status.is_ok());
    const std::string& m = c.status.message();
    EXPECT_NE(m.find(path("g.gguf")), std::string::npos) << m;
    EXPECT_NE(m.find(std::string("'") + c.key + "'"), std::string::npos) << m;
    EXPECT_NE(m.find(c.found), std::string::npos) << m;
  }
}

struct TensorSpec {
  std::string name;
  uint32_t type;
  std::vector<uint64_t> dims;
};

// Tensors of several formats; the byte sizes are deliberately not multiples of the alignment.
const std::vector<TensorSpec>& tensor_specs() {
  static const std::vector<TensorSpec> kSpecs = {
      {"f32.matrix", QE_TYPE_F32, {5, 3}},
      {"f16.vector", QE_TYPE_F16, {7}},
      {"q4_0.weight", QE_TYPE_Q4_0, {64, 3}},
      {"q8_0.weight", QE_TYPE_Q8_0, {32, 2, 2}},
      {"q4_k.weight", QE_TYPE_Q4_K, {256, 1, 1, 2}},
      {"bf16.4d", QE_TYPE_BF16, {3, 1, 2, 1}},
  };
  return kSpecs;
}

uint64_t n_elements(const std::vector<uint64_t>& dims) {
  uint64_t n = 1;
  for (uint64_t d : dims) n *= d;
  return n;
}

// Writes the tensors of tensor_specs() with random bytes; returns the bytes of each.
std::vector<std::vector<uint8_t>> write_tensors(Writer& w, const std::string& path) {
  std::vector<std::vector<uint8_t>> data;
  uint32_t seed = 1;
  for (const auto& s : tensor_specs()) {
    const uint64_t rows = n_elements(s.dims) / s.dims[0];
    data.push_back(random_bytes(qe_row_bytes(s.type, static_cast<int64_t>(s.dims[0])) * rows, seed++));
    EXPECT_TRUE(w.add_tensor(s.name, s.type, s.dims, data.back()).is_ok()) << s.name;
  }
  w.set("general.name", Value::str("tensors"));
  EXPECT_TRUE(w.write(path).is_ok());
  return data;
}

// Address range of the mapping of `path` in this process, from /proc/self/maps.
bool mapped_from(const void* p, const std::string& path) {
  const std::string canon = fs::canonical(path).string();
  std::ifstream maps("/proc/self/maps");
  std::string line;
  const auto addr = reinterpret_cast<uintptr_t>(p);
  while (std::getline(maps, line)) {
    if (line.size() < canon.size() || line.compare(line.size() - canon.size(), canon.size(), canon) != 0) {
      continue;
    }
    std::istringstream ls(line);
    uintptr_t lo = 0, hi = 0;
    char dash = 0;
    ls >> std::hex >> lo >> dash >> hi;
    if (addr >= lo && addr < hi) return true;
  }
  return false;
}

void check_tensors(const File& f, const std::string& path, const std::vector<std::vector<uint8_t>>& data,
                   uint64_t alignment) {
  const auto file = read_bytes(path);
  ASSERT_EQ(f.tensors().size(), tensor_specs().size());
  ASSERT_EQ(f.file_size(), file.size());
  // The writer pads every tensor, the last included, so the data section is the file's tail.
  uint64_t padded = 0;
  for (const auto& d : data) padded += (d.size() + alignment - 1) / alignment * alignment;
  const uint64_t data_start = file.size() - padded;
  EXPECT_EQ(data_start % alignment, 0u);
  const uint8_t* base = nullptr;  // the start of the mapping, derived from the first tensor
  for (size_t i = 0; i < data.size(); ++i) {
    const auto& spec = tensor_specs()[i];
    SCOPED_TRACE(spec.name);
    const TensorInfo* t = f.find_tensor(spec.name);
    ASSERT_NE(t, nullptr);
    EXPECT_EQ(t, &f.tensors()[i]);  // file order is kept
    EXPECT_EQ(t->name, spec.name);
    EXPECT_EQ(t->dims, spec.dims);
    EXPECT_EQ(t->type, spec.type);
    EXPECT_EQ(t->n_elements, n_elements(spec.dims));
    EXPECT_EQ(t->n_bytes, data[i].size());
    EXPECT_EQ(t->offset % alignment, 0u);
    ASSERT_NE(t->data, nullptr);
    ASSERT_EQ(std::memcmp(t->data, data[i].data(), data[i].size()), 0);
    // Zero-copy: the pointer is inside this file's mapping, at data_start + offset, and the
    // mapping (page-aligned) keeps the file's alignment in memory.
    EXPECT_TRUE(mapped_from(t->data, path));
    EXPECT_EQ(reinterpret_cast<uintptr_t>(t->data) % alignment, 0u);
    const uint8_t* b = t->data - data_start - t->offset;
    if (base == nullptr) base = b;
    EXPECT_EQ(b, base);
  }
  ASSERT_NE(base, nullptr);
  EXPECT_EQ(std::memcmp(base, file.data(), file.size()), 0);  // the whole mapping is the file
  EXPECT_EQ(f.find_tensor("missing"), nullptr);
  EXPECT_EQ(f.find_tensor(""), nullptr);
  EXPECT_EQ(f.find_tensor("f32.matri"), nullptr);
}

TEST_F(GgufTest, TensorsRoundTripExactlyAndZeroCopy) {
  Writer w;
  const auto data = write_tensors(w, path("t.gguf"));
  auto f = open_ok(path("t.gguf"));
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(f->alignment(), 32u);
  EXPECT_EQ(f->find("general.alignment"), nullptr);  // the default is not written
  check_tensors(*f, path("t.gguf"), data, 32);
  f->advise_willneed();
}

TEST_F(GgufTest, CustomAlignmentIsHonoured) {
  for (uint64_t alignment : {uint64_t{64}, uint64_t{256}, uint64_t{4096}}) {
    SCOPED_TRACE(alignment);
    Writer w(alignment);
    const std::string p = path(std::to_string(alignment) + ".gguf");
    const auto data = write_tensors(w, p);
    auto f = open_ok(p);
    ASSERT_NE(f, nullptr);
    EXPECT_EQ(f->alignment(), alignment);
    EXPECT_EQ(**f->get_int("general.alignment"), static_cast<int64_t>(alignment));
    EXPECT_EQ(f->find("general.alignment")->type, ValueType::kUint32);
    check_tensors(*f, p, data, alignment);
  }
}

TEST_F(GgufTest, AlignmentKeySetExplicitlyDrivesTheLayout) {
  // general.alignment set as metadata (without the constructor argument) is what readers use,
  // so the writer must lay the file out with it.
  Writer w;
  w.set("general.alignment", Value::u32(128));
  const auto data = write_tensors(w, path("k.gguf"));
  auto f = open_ok(path("k.gguf"));
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(f->alignment(), 128u);
  check_tensors(*f, path("k.gguf"), data, 128);
}

TEST_F(GgufTest, WriterRejectsBadInput) {
  Writer w;
  const std::vector<uint8_t> bytes(18);
  EXPECT_EQ(w.add_tensor("x", QE_TYPE_Q4_0, {32}, std::span<const uint8_t>(bytes).first(17)).code(),
            Code::kInvalidArgument);
  EXPECT_EQ(w.add_tensor("x", QE_TYPE_Q4_0, {48}, bytes).code(), Code::kInvalidArgument);
  EXPECT_EQ(w.add_tensor("x", 99, {32}, bytes).code(), Code::kInvalidArgument);
  EXPECT_EQ(w.add_tensor("x", QE_TYPE_Q4_0, {}, bytes).code(), Code::kInvalidArgument);
  EXPECT_EQ(w.add_tensor("x", QE_TYPE_Q4_0, {32, 0}, bytes).code(), Code::kInvalidArgument);
  EXPECT_EQ(w.add_tensor("x", QE_TYPE_Q4_0, {32, 1, 1, 1, 1}, bytes).code(), Code::kInvalidArgument);
  EXPECT_TRUE(w.add_tensor("x", QE_TYPE_Q4_0, {32}, bytes).is_ok());
  // An alignment that is not a power of two would make an unreadable file.
  Writer bad(48);
  EXPECT_EQ(bad.write(path("bad.gguf")).code(), Code::kInvalidArgument);
  EXPECT_FALSE(fs::exists(path("bad.gguf")));
  EXPECT_FALSE(fs::exists(path("bad.gguf.tmp")));
}

TEST_F(GgufTest, LazyTensorsAreFilledOnWrite) {
  Writer w;
  const auto want = random_bytes(34 * 4, 7);
  ASSERT_TRUE(w.add_tensor_lazy("lazy", QE_TYPE_Q8_0, {64, 2}, [&](uint8_t* dst, uint64_t n) {
                 ASSERT_EQ(n, want.size());
                 std::memcpy(dst, want.data(), n);
               }).is_ok());
  ASSERT_TRUE(w.write(path("l.gguf")).is_ok());
  auto f = open_ok(path("l.gguf"));
  ASSERT_NE(f, nullptr);
  const TensorInfo* t = f->find_tensor("lazy");
  ASSERT_NE(t, nullptr);
  ASSERT_EQ(t->n_bytes, want.size());
  EXPECT_EQ(std::memcmp(t->data, want.data(), want.size()), 0);
}

TEST_F(GgufTest, Version2IsAccepted) {
  // v2 and v3 share the layout for little-endian files (v3 only added big-endian support).
  Writer w;
  for (const auto& [k, v] : all_values()) w.set(k, v);
  const auto data = write_tensors(w, path("v3.gguf"));
  auto bytes = read_bytes(path("v3.gguf"));
  ASSERT_GE(bytes.size(), 8u);
  const uint32_t v2 = 2;
  std::memcpy(bytes.data() + 4, &v2, 4);
  write_bytes(path("v2.gguf"), bytes);
  auto f = open_ok(path("v2.gguf"));
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(f->version(), 2u);
  EXPECT_EQ(**f->get_string("t.str"), "héllo wörld — 日本語 🦙");
  EXPECT_EQ(f->metadata().size(), all_values().size() + 1);  // + general.name
  check_tensors(*f, path("v2.gguf"), data, 32);
}

TEST_F(GgufTest, OverwrittenKeyKeepsOnePlace) {
  Writer w;
  w.set("a", Value::u32(1));
  w.set("b", Value::u32(2));
  w.set("a", Value::str("x"));
  ASSERT_TRUE(w.write(path("o.gguf")).is_ok());
  auto f = open_ok(path("o.gguf"));
  ASSERT_NE(f, nullptr);
  ASSERT_EQ(f->metadata().size(), 2u);
  EXPECT_EQ(f->metadata()[0].first, "a");
  EXPECT_EQ(**f->get_string("a"), "x");
}

}  // namespace
}  // namespace qe::gguf
