// GGUF reader (mmap, every extent bounds-checked with overflow-safe arithmetic) and writer.
#include "gguf.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <limits>

#include "format/qe_format.h"

namespace qe::gguf {
namespace {

constexpr uint32_t kMagic = 0x46554747;  // "GGUF" read as little-endian uint32
constexpr uint32_t kMaxDims = 4;
constexpr uint64_t kMaxStringLen = uint64_t{1} << 30;  // 1 GiB: anything longer is corrupt
constexpr uint64_t kMaxAlignment = uint64_t{1} << 20;

bool mul_overflows(uint64_t a, uint64_t b, uint64_t* out) { return __builtin_mul_overflow(a, b, out); }
bool add_overflows(uint64_t a, uint64_t b, uint64_t* out) { return __builtin_add_overflow(a, b, out); }

// Minimal strict UTF-8 check (no overlongs, no surrogates, max U+10FFFF).
bool valid_utf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    int n = 0;
    uint32_t cp = 0;
    if (c < 0x80) { ++i; continue; }
    if ((c & 0xE0) == 0xC0) { n = 1; cp = c & 0x1F; }
    else if ((c & 0xF0) == 0xE0) { n = 2; cp = c & 0x0F; }
    else if ((c & 0xF8) == 0xF0) { n = 3; cp = c & 0x07; }
    else return false;
    if (i + static_cast<size_t>(n) >= s.size()) return false;  // sequence runs past the end
    for (int k = 1; k <= n; ++k) {
      const auto cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3F);
    }
    if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000)) return false;
    if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    i += n + 1;
  }
  return true;
}

// Reads little-endian values from the mapping; every read is checked against the end.
class Cursor {
 public:
  Cursor(const std::string& path, const uint8_t* base, uint64_t size)
      : path_(path), base_(base), size_(size) {}

  uint64_t pos() const { return pos_; }
  uint64_t remaining() const { return size_ - pos_; }

  Status fail(std::string_view field, uint64_t at, std::string_view problem) const {
    return error(Code::kBadFormat, path_ + ": invalid GGUF: " + std::string(field) + " at offset " +
                                       std::to_string(at) + ": " + std::string(problem));
  }

  template <typename T>
  Status read(std::string_view field, T* out) {
    if (remaining() < sizeof(T)) {
      return fail(field, pos_, "file truncated (need " + std::to_string(sizeof(T)) + " bytes, " +
                                   std::to_string(remaining()) + " left)");
    }
    std::memcpy(out, base_ + pos_, sizeof(T));
    pos_ += sizeof(T);
    return {};
  }

  Status read_string(std::string_view field, std::string* out) {
    const uint64_t at = pos_;
    uint64_t len = 0;
    QE_RETURN_IF_ERROR(read(field, &len));
    if (len > kMaxStringLen || len > remaining()) {
      return fail(field, at, "string length " + std::to_string(len) + " exceeds the " +
                                 std::to_string(remaining()) + " bytes left in the file");
    }
    out->assign(reinterpret_cast<const char*>(base_ + pos_), len);
    pos_ += len;
    return {};
  }

 private:
  const std::string& path_;
  const uint8_t* base_;
  uint64_t size_;
  uint64_t pos_ = 0;
};

uint64_t scalar_size(ValueType t) {
  switch (t) {
    case ValueType::kUint8: case ValueType::kInt8: case ValueType::kBool: return 1;
    case ValueType::kUint16: case ValueType::kInt16: return 2;
    case ValueType::kUint32: case ValueType::kInt32: case ValueType::kFloat32: return 4;
    case ValueType::kUint64: case ValueType::kInt64: case ValueType::kFloat64: return 8;
    case ValueType::kString: return 8;  // at least the length prefix
    case ValueType::kArray: return 0;
  }
  return 0;
}

bool is_known_type(uint32_t t) { return t <= static_cast<uint32_t>(ValueType::kFloat64); }
bool is_unsigned(ValueType t) {
  return t == ValueType::kUint8 || t == ValueType::kUint16 || t == ValueType::kUint32 ||
         t == ValueType::kUint64;
}
bool is_signed(ValueType t) {
  return t == ValueType::kInt8 || t == ValueType::kInt16 || t == ValueType::kInt32 ||
         t == ValueType::kInt64;
}
bool is_float(ValueType t) { return t == ValueType::kFloat32 || t == ValueType::kFloat64; }

// Reads one scalar of type t, widened: unsigned -> uint64_t, signed -> int64_t, float -> double.
template <typename U, typename S, typename F, typename B>
Status read_scalar(Cursor& c, ValueType t, std::string_view field, U* u, S* s, F* f, B* b) {
  switch (t) {
    case ValueType::kUint8: { uint8_t x; QE_RETURN_IF_ERROR(c.read(field, &x)); *u = x; return {}; }
    case ValueType::kUint16: { uint16_t x; QE_RETURN_IF_ERROR(c.read(field, &x)); *u = x; return {}; }
    case ValueType::kUint32: { uint32_t x; QE_RETURN_IF_ERROR(c.read(field, &x)); *u = x; return {}; }
    case ValueType::kUint64: { uint64_t x; QE_RETURN_IF_ERROR(c.read(field, &x)); *u = x; return {}; }
    case ValueType::kInt8: { int8_t x; QE_RETURN_IF_ERROR(c.read(field, &x)); *s = x; return {}; }
    case ValueType::kInt16: { int16_t x; QE_RETURN_IF_ERROR(c.read(field, &x)); *s = x; return {}; }
    case ValueType::kInt32: { int32_t x; QE_RETURN_IF_ERROR(c.read(field, &x)); *s = x; return {}; }
    case ValueType::kInt64: { int64_t x; QE_RETURN_IF_ERROR(c.read(field, &x)); *s = x; return {}; }
    case ValueType::kFloat32: { float x; QE_RETURN_IF_ERROR(c.read(field, &x)); *f = x; return {}; }
    case ValueType::kFloat64: { double x; QE_RETURN_IF_ERROR(c.read(field, &x)); *f = x; return {}; }
    case ValueType::kBool: {
      const uint64_t at = c.pos();
      uint8_t x;
      QE_RETURN_IF_ERROR(c.read(field, &x));
      if (x > 1) return c.fail(field, at, "bool value " + std::to_string(x) + " is not 0 or 1");
      *b = x != 0;
      return {};
    }
    default: break;
  }
  return c.fail(field, c.pos(), "not a scalar type");
}

Status read_value(Cursor& c, const std::string& key, Value* out) {
  const std::string field = "value of '" + key + "'";
  const uint64_t type_at = c.pos();
  uint32_t raw_type = 0;
  QE_RETURN_IF_ERROR(c.read("type of '" + key + "'", &raw_type));
  if (!is_known_type(raw_type)) {
    return c.fail("type of '" + key + "'", type_at, "unknown value type " + std::to_string(raw_type));
  }
  out->type = static_cast<ValueType>(raw_type);
  if (out->type == ValueType::kString) {
    std::string s;
    QE_RETURN_IF_ERROR(c.read_string(field, &s));
    out->v = std::move(s);
    return {};
  }
  if (out->type != ValueType::kArray) {
    uint64_t u = 0;
    int64_t s = 0;
    double f = 0;
    bool b = false;
    QE_RETURN_IF_ERROR(read_scalar(c, out->type, field, &u, &s, &f, &b));
    if (is_unsigned(out->type)) out->v = u;
    else if (is_signed(out->type)) out->v = s;
    else if (is_float(out->type)) out->v = f;
    else out->v = b;
    return {};
  }
  // Array: element type, count, elements.
  const uint64_t et_at = c.pos();
  uint32_t raw_elem = 0;
  QE_RETURN_IF_ERROR(c.read("array element type of '" + key + "'", &raw_elem));
  if (!is_known_type(raw_elem)) {
    return c.fail("array element type of '" + key + "'", et_at,
                  "unknown value type " + std::to_string(raw_elem));
  }
  if (raw_elem == static_cast<uint32_t>(ValueType::kArray)) {
    return c.fail("array element type of '" + key + "'", et_at, "nested arrays are not supported");
  }
  out->elem_type = static_cast<ValueType>(raw_elem);
  const uint64_t n_at = c.pos();
  uint64_t n = 0;
  QE_RETURN_IF_ERROR(c.read("array length of '" + key + "'", &n));
  uint64_t min_bytes = 0;
  if (mul_overflows(n, scalar_size(out->elem_type), &min_bytes) || min_bytes > c.remaining()) {
    return c.fail("array length of '" + key + "'", n_at,
                  "count " + std::to_string(n) + " does not fit in the " +
                      std::to_string(c.remaining()) + " bytes left in the file");
  }
  switch (out->elem_type) {
    case ValueType::kString: {
      std::vector<std::string> v(n);
      for (auto& s : v) QE_RETURN_IF_ERROR(c.read_string(field, &s));
      out->v = std::move(v);
      return {};
    }
    case ValueType::kBool: {
      std::vector<bool> v(n);
      for (uint64_t i = 0; i < n; ++i) {
        uint64_t u; int64_t s; double f; bool b = false;
        QE_RETURN_IF_ERROR(read_scalar(c, out->elem_type, field, &u, &s, &f, &b));
        v[i] = b;
      }
      out->v = std::move(v);
      return {};
    }
    default: break;
  }
  if (is_unsigned(out->elem_type)) {
    std::vector<uint64_t> v(n);
    for (auto& x : v) { int64_t s; double f; bool b; QE_RETURN_IF_ERROR(read_scalar(c, out->elem_type, field, &x, &s, &f, &b)); }
    out->v = std::move(v);
  } else if (is_signed(out->elem_type)) {
    std::vector<int64_t> v(n);
    for (auto& x : v) { uint64_t u; double f; bool b; QE_RETURN_IF_ERROR(read_scalar(c, out->elem_type, field, &u, &x, &f, &b)); }
    out->v = std::move(v);
  } else {
    std::vector<double> v(n);
    for (auto& x : v) { uint64_t u; int64_t s; bool b; QE_RETURN_IF_ERROR(read_scalar(c, out->elem_type, field, &u, &s, &x, &b)); }
    out->v = std::move(v);
  }
  return {};
}

Status type_error(const std::string& path, std::string_view key, const Value& v, std::string_view want) {
  std::string got = value_type_name(v.type);
  if (v.type == ValueType::kArray) got += std::string(" of ") + value_type_name(v.elem_type);
  return error(Code::kBadFormat, path + ": metadata key '" + std::string(key) + "' has type " + got +
                                     ", expected " + std::string(want));
}

}  // namespace

const char* value_type_name(ValueType t) {
  static constexpr const char* kNames[] = {"uint8", "int8", "uint16", "int16", "uint32", "int32", "float32",
                                           "bool", "string", "array", "uint64", "int64", "float64"};
  const auto i = static_cast<uint32_t>(t);
  return i < std::size(kNames) ? kNames[i] : "unknown";
}

Value Value::u32(uint32_t x) { Value r; r.type = ValueType::kUint32; r.v = uint64_t{x}; return r; }
Value Value::i32(int32_t x) { Value r; r.type = ValueType::kInt32; r.v = int64_t{x}; return r; }
Value Value::u64(uint64_t x) { Value r; r.type = ValueType::kUint64; r.v = x; return r; }
Value Value::f32(float x) { Value r; r.type = ValueType::kFloat32; r.v = double{x}; return r; }
Value Value::boolean(bool x) { Value r; r.type = ValueType::kBool; r.v = x; return r; }
Value Value::str(std::string x) { Value r; r.type = ValueType::kString; r.v = std::move(x); return r; }
Value Value::str_array(std::vector<std::string> x) {
  Value r; r.type = ValueType::kArray; r.elem_type = ValueType::kString; r.v = std::move(x); return r;
}
Value Value::f32_array(std::vector<float> x) {
  Value r; r.type = ValueType::kArray; r.elem_type = ValueType::kFloat32;
  r.v = std::vector<double>(x.begin(), x.end());
  return r;
}
Value Value::i32_array(std::vector<int32_t> x) {
  Value r; r.type = ValueType::kArray; r.elem_type = ValueType::kInt32;
  r.v = std::vector<int64_t>(x.begin(), x.end());
  return r;
}

File::~File() {
  if (map_ != nullptr) munmap(map_, size_);
}

Result<std::unique_ptr<File>> File::open(const std::string& path) {
  std::unique_ptr<File> f(new File());
  f->path_ = path;
  // O_NONBLOCK: opening a FIFO would otherwise wait forever for a writer before the regular-file
  // check below can reject it; it changes nothing for regular files.
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) return error(Code::kIoError, path + ": cannot open: " + std::strerror(errno));
  struct stat st {};
  if (fstat(fd, &st) != 0) {
    const int e = errno;
    ::close(fd);
    return error(Code::kIoError, path + ": cannot stat: " + std::strerror(e));
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    return error(Code::kIoError, path + ": not a regular file");
  }
  f->size_ = static_cast<uint64_t>(st.st_size);
  if (f->size_ < 4) {
    ::close(fd);
    return error(Code::kBadFormat, path + ": invalid GGUF: file is " + std::to_string(f->size_) +
                                       " bytes, too short for the header");
  }
  f->map_ = mmap(nullptr, f->size_, PROT_READ, MAP_PRIVATE, fd, 0);
  const int map_errno = errno;
  ::close(fd);
  if (f->map_ == MAP_FAILED) {
    f->map_ = nullptr;
    return error(Code::kIoError, path + ": cannot map: " + std::strerror(map_errno));
  }
  const auto* base = static_cast<const uint8_t*>(f->map_);
  Cursor c(f->path_, base, f->size_);

  uint32_t magic = 0;
  QE_RETURN_IF_ERROR(c.read("magic", &magic));
  if (magic != kMagic) return c.fail("magic", 0, "not a GGUF file (magic bytes are not 'GGUF')");
  QE_RETURN_IF_ERROR(c.read("version", &f->version_));
  if (f->version_ != 2 && f->version_ != 3) {
    return c.fail("version", 4, "unsupported GGUF version " + std::to_string(f->version_) +
                                    " (supported: 2 and 3)");
  }
  uint64_t n_tensors = 0, n_kv = 0;
  QE_RETURN_IF_ERROR(c.read("tensor count", &n_tensors));
  QE_RETURN_IF_ERROR(c.read("metadata count", &n_kv));
  // Each key/value needs at least 8 (key length) + 4 (type) + 1 bytes; each tensor info at
  // least 8 + 4 + 8 + 4 + 8. Reject counts the file cannot possibly hold before allocating.
  if (n_kv > c.remaining() / 13) {
    return c.fail("metadata count", 16, "count " + std::to_string(n_kv) + " cannot fit in a " +
                                            std::to_string(f->size_) + "-byte file");
  }
  if (n_tensors > c.remaining() / 32) {
    return c.fail("tensor count", 8, "count " + std::to_string(n_tensors) + " cannot fit in a " +
                                         std::to_string(f->size_) + "-byte file");
  }

  f->kv_.reserve(n_kv);
  for (uint64_t i = 0; i < n_kv; ++i) {
    const uint64_t key_at = c.pos();
    std::string key;
    QE_RETURN_IF_ERROR(c.read_string("key of metadata entry " + std::to_string(i), &key));
    if (key.empty() || !valid_utf8(key)) {
      return c.fail("key of metadata entry " + std::to_string(i), key_at,
                    key.empty() ? "empty key" : "key is not valid UTF-8");
    }
    if (f->kv_index_.count(key) != 0) return c.fail("key '" + key + "'", key_at, "duplicate key");
    Value v;
    QE_RETURN_IF_ERROR(read_value(c, key, &v));
    f->kv_index_.emplace(key, f->kv_.size());
    f->kv_.emplace_back(std::move(key), std::move(v));
  }

  if (const Value* a = f->find("general.alignment")) {
    const auto* u = std::get_if<uint64_t>(&a->v);
    if (u == nullptr || a->type != ValueType::kUint32) {
      return type_error(f->path_, "general.alignment", *a, "uint32");
    }
    if (*u == 0 || (*u & (*u - 1)) != 0 || *u > kMaxAlignment) {
      return error(Code::kBadFormat, f->path_ + ": invalid GGUF: general.alignment = " +
                                         std::to_string(*u) + " is not a power of two up to 1 MiB");
    }
    f->alignment_ = *u;
  }

  f->tensors_.reserve(n_tensors);
  for (uint64_t i = 0; i < n_tensors; ++i) {
    const uint64_t info_at = c.pos();
    TensorInfo t;
    QE_RETURN_IF_ERROR(c.read_string("name of tensor " + std::to_string(i), &t.name));
    if (t.name.empty() || !valid_utf8(t.name)) {
      return c.fail("name of tensor " + std::to_string(i), info_at,
                    t.name.empty() ? "empty tensor name" : "tensor name is not valid UTF-8");
    }
    if (f->tensor_index_.count(t.name) != 0) {
      return c.fail("tensor '" + t.name + "'", info_at, "duplicate tensor name");
    }
    const std::string field = "tensor '" + t.name + "'";
    const uint64_t dims_at = c.pos();
    uint32_t n_dims = 0;
    QE_RETURN_IF_ERROR(c.read(field + " dimension count", &n_dims));
    if (n_dims == 0 || n_dims > kMaxDims) {
      return c.fail(field + " dimension count", dims_at,
                    std::to_string(n_dims) + " dimensions (must be 1 to 4)");
    }
    t.dims.resize(n_dims);
    uint64_t n_el = 1;
    for (uint32_t d = 0; d < n_dims; ++d) {
      const uint64_t at = c.pos();
      QE_RETURN_IF_ERROR(c.read(field + " dimension " + std::to_string(d), &t.dims[d]));
      if (t.dims[d] == 0 || t.dims[d] > (uint64_t{1} << 62)) {
        return c.fail(field + " dimension " + std::to_string(d), at,
                      "size " + std::to_string(t.dims[d]) + " is out of range");
      }
      if (mul_overflows(n_el, t.dims[d], &n_el)) {
        return c.fail(field + " dimensions", dims_at, "element count overflows 64 bits");
      }
    }
    t.n_elements = n_el;
    const uint64_t type_at = c.pos();
    QE_RETURN_IF_ERROR(c.read(field + " type", &t.type));
    const qe_type_info* info = qe_type_get(t.type);
    if (info == nullptr) {
      return c.fail(field + " type", type_at,
                    "unknown or unsupported tensor type " + std::to_string(t.type));
    }
    if (t.dims[0] % static_cast<uint64_t>(info->block_elems) != 0) {
      return c.fail(field + " dimension 0", dims_at + 4,
                    "row length " + std::to_string(t.dims[0]) + " is not a multiple of the " +
                        info->name + " block size " + std::to_string(info->block_elems));
    }
    if (mul_overflows(n_el / static_cast<uint64_t>(info->block_elems),
                      static_cast<uint64_t>(info->block_bytes), &t.n_bytes)) {
      return c.fail(field + " dimensions", dims_at, "byte size overflows 64 bits");
    }
    const uint64_t off_at = c.pos();
    QE_RETURN_IF_ERROR(c.read(field + " offset", &t.offset));
    if (t.offset % f->alignment_ != 0) {
      return c.fail(field + " offset", off_at,
                    "offset " + std::to_string(t.offset) + " is not a multiple of the alignment " +
                        std::to_string(f->alignment_));
    }
    f->tensor_index_.emplace(t.name, f->tensors_.size());
    f->tensors_.push_back(std::move(t));
  }

  // The data section starts at the next multiple of the alignment after the tensor infos.
  uint64_t data_start = (c.pos() + f->alignment_ - 1) / f->alignment_ * f->alignment_;
  if (n_tensors > 0 && data_start > f->size_) {
    return c.fail("data section", c.pos(), "file truncated before the tensor data");
  }
  for (auto& t : f->tensors_) {
    uint64_t begin = 0, end = 0;
    if (add_overflows(data_start, t.offset, &begin) || add_overflows(begin, t.n_bytes, &end) ||
        end > f->size_) {
      return error(Code::kBadFormat,
                   f->path_ + ": invalid GGUF: tensor '" + t.name + "' data [" +
                       std::to_string(t.offset) + ", +" + std::to_string(t.n_bytes) +
                       ") relative to the data section at offset " + std::to_string(data_start) +
                       " extends past the end of the " + std::to_string(f->size_) + "-byte file");
    }
    t.data = base + begin;
  }
  // No two tensors may share bytes.
  std::vector<const TensorInfo*> by_offset;
  by_offset.reserve(f->tensors_.size());
  for (const auto& t : f->tensors_) by_offset.push_back(&t);
  std::sort(by_offset.begin(), by_offset.end(),
            [](const TensorInfo* a, const TensorInfo* b) { return a->offset < b->offset; });
  for (size_t i = 1; i < by_offset.size(); ++i) {
    const TensorInfo* prev = by_offset[i - 1];
    if (prev->offset + prev->n_bytes > by_offset[i]->offset) {
      return error(Code::kBadFormat, f->path_ + ": invalid GGUF: tensors '" + prev->name + "' and '" +
                                         by_offset[i]->name + "' overlap (offsets " +
                                         std::to_string(prev->offset) + " and " +
                                         std::to_string(by_offset[i]->offset) + ")");
    }
  }
  return f;
}

const Value* File::find(std::string_view key) const {
  const auto it = kv_index_.find(key);
  return it == kv_index_.end() ? nullptr : &kv_[it->second].second;
}

const TensorInfo* File::find_tensor(std::string_view name) const {
  const auto it = tensor_index_.find(name);
  return it == tensor_index_.end() ? nullptr : &tensors_[it->second];
}

Result<std::optional<int64_t>> File::get_int(std::string_view key) const {
  const Value* v = find(key);
  if (v == nullptr) return std::optional<int64_t>();
  if (const auto* u = std::get_if<uint64_t>(&v->v)) {
    if (*u > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
      return error(Code::kBadFormat, path_ + ": metadata key '" + std::string(key) + "' value " +
                                         std::to_string(*u) + " is out of range");
    }
    return std::optional<int64_t>(static_cast<int64_t>(*u));
  }
  if (const auto* s = std::get_if<int64_t>(&v->v)) return std::optional<int64_t>(*s);
  return type_error(path_, key, *v, "an integer");
}

Result<std::optional<double>> File::get_float(std::string_view key) const {
  const Value* v = find(key);
  if (v == nullptr) return std::optional<double>();
  if (const auto* d = std::get_if<double>(&v->v)) return std::optional<double>(*d);
  if (const auto* u = std::get_if<uint64_t>(&v->v)) return std::optional<double>(static_cast<double>(*u));
  if (const auto* s = std::get_if<int64_t>(&v->v)) return std::optional<double>(static_cast<double>(*s));
  return type_error(path_, key, *v, "a number");
}

Result<std::optional<bool>> File::get_bool(std::string_view key) const {
  const Value* v = find(key);
  if (v == nullptr) return std::optional<bool>();
  if (const auto* b = std::get_if<bool>(&v->v)) return std::optional<bool>(*b);
  return type_error(path_, key, *v, "bool");
}

Result<std::optional<std::string>> File::get_string(std::string_view key) const {
  const Value* v = find(key);
  if (v == nullptr) return std::optional<std::string>();
  if (const auto* s = std::get_if<std::string>(&v->v)) return std::optional<std::string>(*s);
  return type_error(path_, key, *v, "string");
}

Result<std::optional<std::vector<std::string>>> File::get_string_array(std::string_view key) const {
  const Value* v = find(key);
  if (v == nullptr) return std::optional<std::vector<std::string>>();
  if (const auto* s = std::get_if<std::vector<std::string>>(&v->v)) {
    return std::optional<std::vector<std::string>>(*s);
  }
  return type_error(path_, key, *v, "array of string");
}

Result<std::optional<std::vector<double>>> File::get_float_array(std::string_view key) const {
  const Value* v = find(key);
  if (v == nullptr) return std::optional<std::vector<double>>();
  if (const auto* d = std::get_if<std::vector<double>>(&v->v)) {
    return std::optional<std::vector<double>>(*d);
  }
  return type_error(path_, key, *v, "array of float");
}

Result<std::optional<std::vector<int64_t>>> File::get_int_array(std::string_view key) const {
  const Value* v = find(key);
  if (v == nullptr) return std::optional<std::vector<int64_t>>();
  if (const auto* s = std::get_if<std::vector<int64_t>>(&v->v)) {
    return std::optional<std::vector<int64_t>>(*s);
  }
  if (const auto* u = std::get_if<std::vector<uint64_t>>(&v->v)) {
    std::vector<int64_t> r;
    r.reserve(u->size());
    for (uint64_t x : *u) {
      if (x > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
        return error(Code::kBadFormat, path_ + ": metadata key '" + std::string(key) +
                                           "' holds an out-of-range value");
      }
      r.push_back(static_cast<int64_t>(x));
    }
    return std::optional<std::vector<int64_t>>(std::move(r));
  }
  return type_error(path_, key, *v, "array of integer");
}

void File::advise_willneed() const {
  if (map_ != nullptr) madvise(map_, size_, MADV_WILLNEED);
}

// ---------------------------------------------------------------------------------------------
// Writer

namespace {

class Out {
 public:
  explicit Out(std::ofstream& os) : os_(os) {}
  template <typename T>
  void put(T x) { os_.write(reinterpret_cast<const char*>(&x), sizeof(T)); pos_ += sizeof(T); }
  void put_string(std::string_view s) {
    put<uint64_t>(s.size());
    os_.write(s.data(), static_cast<std::streamsize>(s.size()));
    pos_ += s.size();
  }
  void put_bytes(const uint8_t* p, uint64_t n) {
    os_.write(reinterpret_cast<const char*>(p), static_cast<std::streamsize>(n));
    pos_ += n;
  }
  void pad_to(uint64_t alignment) {
    while (pos_ % alignment != 0) put<uint8_t>(0);
  }

 private:
  std::ofstream& os_;
  uint64_t pos_ = 0;
};

void put_scalar(Out& o, ValueType t, uint64_t u, int64_t s, double d, bool b) {
  switch (t) {
    case ValueType::kUint8: o.put<uint8_t>(static_cast<uint8_t>(u)); break;
    case ValueType::kUint16: o.put<uint16_t>(static_cast<uint16_t>(u)); break;
    case ValueType::kUint32: o.put<uint32_t>(static_cast<uint32_t>(u)); break;
    case ValueType::kUint64: o.put<uint64_t>(u); break;
    case ValueType::kInt8: o.put<int8_t>(static_cast<int8_t>(s)); break;
    case ValueType::kInt16: o.put<int16_t>(static_cast<int16_t>(s)); break;
    case ValueType::kInt32: o.put<int32_t>(static_cast<int32_t>(s)); break;
    case ValueType::kInt64: o.put<int64_t>(s); break;
    case ValueType::kFloat32: o.put<float>(static_cast<float>(d)); break;
    case ValueType::kFloat64: o.put<double>(d); break;
    case ValueType::kBool: o.put<uint8_t>(b ? 1 : 0); break;
    default: QE_CHECK(false);
  }
}

void put_value(Out& o, const Value& v) {
  o.put<uint32_t>(static_cast<uint32_t>(v.type));
  std::visit(
      [&](const auto& x) {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<T, uint64_t>) put_scalar(o, v.type, x, 0, 0, false);
        else if constexpr (std::is_same_v<T, int64_t>) put_scalar(o, v.type, 0, x, 0, false);
        else if constexpr (std::is_same_v<T, double>) put_scalar(o, v.type, 0, 0, x, false);
        else if constexpr (std::is_same_v<T, bool>) put_scalar(o, v.type, 0, 0, 0, x);
        else if constexpr (std::is_same_v<T, std::string>) o.put_string(x);
        else {
          o.put<uint32_t>(static_cast<uint32_t>(v.elem_type));
          o.put<uint64_t>(x.size());
          for (const auto& e : x) {
            using E = std::decay_t<decltype(e)>;
            if constexpr (std::is_same_v<E, std::string>) o.put_string(e);
            else if constexpr (std::is_same_v<E, uint64_t>) put_scalar(o, v.elem_type, e, 0, 0, false);
            else if constexpr (std::is_same_v<E, int64_t>) put_scalar(o, v.elem_type, 0, e, 0, false);
            else if constexpr (std::is_same_v<E, double>) put_scalar(o, v.elem_type, 0, 0, e, false);
            else put_scalar(o, v.elem_type, 0, 0, 0, static_cast<bool>(e));
          }
        }
      },
      v.v);
}

Result<uint64_t> tensor_bytes(uint32_t type, const std::vector<uint64_t>& dims, const std::string& name) {
  const qe_type_info* info = qe_type_get(type);
  if (info == nullptr) {
    return error(Code::kInvalidArgument, "tensor '" + name + "': unknown type " + std::to_string(type));
  }
  if (dims.empty() || dims.size() > kMaxDims) {
    return error(Code::kInvalidArgument, "tensor '" + name + "': must have 1 to 4 dimensions");
  }
  if (dims[0] % static_cast<uint64_t>(info->block_elems) != 0) {
    return error(Code::kInvalidArgument, "tensor '" + name + "': row length " + std::to_string(dims[0]) +
                                             " is not a multiple of the " + info->name + " block size");
  }
  uint64_t n = 1;
  for (uint64_t d : dims) {
    if (d == 0 || mul_overflows(n, d, &n)) {
      return error(Code::kInvalidArgument, "tensor '" + name + "': bad dimensions");
    }
  }
  return n / static_cast<uint64_t>(info->block_elems) * static_cast<uint64_t>(info->block_bytes);
}

}  // namespace

void Writer::set(std::string key, Value value) {
  for (auto& kv : kv_) {
    if (kv.first == key) {
      kv.second = std::move(value);
      return;
    }
  }
  kv_.emplace_back(std::move(key), std::move(value));
}

Status Writer::add_tensor(std::string name, uint32_t type, std::vector<uint64_t> dims,
                          std::span<const uint8_t> data) {
  auto bytes = tensor_bytes(type, dims, name);
  if (!bytes) return bytes.status();
  if (data.size() != *bytes) {
    return error(Code::kInvalidArgument, "tensor '" + name + "': got " + std::to_string(data.size()) +
                                             " bytes, expected " + std::to_string(*bytes));
  }
  tensors_.push_back({std::move(name), type, std::move(dims), *bytes,
                      std::vector<uint8_t>(data.begin(), data.end()), {}});
  return {};
}

Status Writer::add_tensor_lazy(std::string name, uint32_t type, std::vector<uint64_t> dims,
                               std::function<void(uint8_t*, uint64_t)> fill) {
  auto bytes = tensor_bytes(type, dims, name);
  if (!bytes) return bytes.status();
  tensors_.push_back({std::move(name), type, std::move(dims), *bytes, {}, std::move(fill)});
  return {};
}

Status Writer::write(const std::string& path) const {
  // Readers lay the file out by the general.alignment it declares, so a key set with set() wins
  // over the constructor argument; anything but a power of two would make an unreadable file.
  uint64_t alignment = alignment_;
  for (const auto& [key, value] : kv_) {
    const auto* u = std::get_if<uint64_t>(&value.v);
    if (key == "general.alignment" && u != nullptr) alignment = *u;
  }
  if (alignment == 0 || (alignment & (alignment - 1)) != 0 || alignment > kMaxAlignment) {
    return error(Code::kInvalidArgument, path + ": alignment " + std::to_string(alignment) +
                                             " is not a power of two up to 1 MiB");
  }
  const std::string tmp = path + ".tmp";
  {
    std::ofstream os(tmp, std::ios::binary | std::ios::trunc);
    if (!os) return error(Code::kIoError, tmp + ": cannot open for writing: " + std::strerror(errno));
    Out o(os);
    o.put<uint32_t>(kMagic);
    o.put<uint32_t>(3);
    o.put<uint64_t>(tensors_.size());
    const bool has_alignment = std::any_of(kv_.begin(), kv_.end(),
                                           [](const auto& kv) { return kv.first == "general.alignment"; });
    const bool write_alignment = !has_alignment && alignment != 32;
    o.put<uint64_t>(kv_.size() + (write_alignment ? 1 : 0));
    for (const auto& [key, value] : kv_) {
      o.put_string(key);
      put_value(o, value);
    }
    if (write_alignment) {
      o.put_string("general.alignment");
      put_value(o, Value::u32(static_cast<uint32_t>(alignment)));
    }
    uint64_t offset = 0;
    for (const auto& t : tensors_) {
      o.put_string(t.name);
      o.put<uint32_t>(static_cast<uint32_t>(t.dims.size()));
      for (uint64_t d : t.dims) o.put<uint64_t>(d);
      o.put<uint32_t>(t.type);
      o.put<uint64_t>(offset);
      offset += (t.n_bytes + alignment - 1) / alignment * alignment;
    }
    o.pad_to(alignment);
    std::vector<uint8_t> scratch;
    for (const auto& t : tensors_) {
      if (t.fill) {
        scratch.assign(t.n_bytes, 0);
        t.fill(scratch.data(), t.n_bytes);
        o.put_bytes(scratch.data(), t.n_bytes);
      } else {
        o.put_bytes(t.data.data(), t.n_bytes);
      }
      o.pad_to(alignment);
    }
    os.flush();
    if (!os) {
      std::remove(tmp.c_str());
      return error(Code::kIoError, tmp + ": write failed (disk full?)");
    }
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    const int e = errno;
    std::remove(tmp.c_str());
    return error(Code::kIoError, path + ": cannot rename from " + tmp + ": " + std::strerror(e));
  }
  return {};
}

}  // namespace qe::gguf
