// GGUF container: bounds-checked mmap reader with zero-copy tensor views, and a writer.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "status.h"

namespace qe::gguf {

// On-disk metadata value types (GGUF spec).
enum class ValueType : uint32_t {
  kUint8 = 0, kInt8 = 1, kUint16 = 2, kInt16 = 3, kUint32 = 4, kInt32 = 5, kFloat32 = 6,
  kBool = 7, kString = 8, kArray = 9, kUint64 = 10, kInt64 = 11, kFloat64 = 12,
};
const char* value_type_name(ValueType t);

// A metadata value. Scalars are widened to the largest type of their kind; `type` keeps
// the on-disk type so the writer round-trips exactly. Arrays hold one element vector.
struct Value {
  ValueType type = ValueType::kUint32;
  ValueType elem_type = ValueType::kUint8;  // for arrays
  std::variant<uint64_t, int64_t, double, bool, std::string,
               std::vector<uint64_t>, std::vector<int64_t>, std::vector<double>,
               std::vector<bool>, std::vector<std::string>>
      v;

  // Convenience constructors for the writer.
  static Value u32(uint32_t x);
  static Value i32(int32_t x);
  static Value u64(uint64_t x);
  static Value f32(float x);
  static Value boolean(bool x);
  static Value str(std::string x);
  static Value str_array(std::vector<std::string> x);
  static Value f32_array(std::vector<float> x);
  static Value i32_array(std::vector<int32_t> x);
};

// One tensor in the file. dims[0] is the fastest-varying (row length), as in GGUF.
struct TensorInfo {
  std::string name;
  std::vector<uint64_t> dims;  // (ne0, ne1, ...)
  uint32_t type = 0;           // qe_type / ggml type id
  uint64_t offset = 0;         // relative to the data section
  uint64_t n_elements = 0;
  uint64_t n_bytes = 0;
  const uint8_t* data = nullptr;  // zero-copy view into the mapping
};

class File {
 public:
  // Maps and validates `path`. Every count, length, offset and extent is checked against
  // the file size; errors name the file, the field and its byte offset.
  static Result<std::unique_ptr<File>> open(const std::string& path);
  ~File();
  File(const File&) = delete;
  File& operator=(const File&) = delete;

  const std::string& path() const { return path_; }
  uint32_t version() const { return version_; }
  uint64_t alignment() const { return alignment_; }
  uint64_t file_size() const { return size_; }

  const std::vector<std::pair<std::string, Value>>& metadata() const { return kv_; }
  const Value* find(std::string_view key) const;
  // Typed getters: std::nullopt when absent; an error Status when present with a wrong type.
  Result<std::optional<int64_t>> get_int(std::string_view key) const;
  Result<std::optional<double>> get_float(std::string_view key) const;
  Result<std::optional<bool>> get_bool(std::string_view key) const;
  Result<std::optional<std::string>> get_string(std::string_view key) const;
  Result<std::optional<std::vector<std::string>>> get_string_array(std::string_view key) const;
  Result<std::optional<std::vector<double>>> get_float_array(std::string_view key) const;
  Result<std::optional<std::vector<int64_t>>> get_int_array(std::string_view key) const;

  const std::vector<TensorInfo>& tensors() const { return tensors_; }
  const TensorInfo* find_tensor(std::string_view name) const;

  // Advise the kernel that the tensor data will be read (or is no longer needed).
  void advise_willneed() const;

 private:
  File() = default;
  std::string path_;
  uint32_t version_ = 0;
  uint64_t alignment_ = 32;
  uint64_t size_ = 0;
  void* map_ = nullptr;
  std::vector<std::pair<std::string, Value>> kv_;
  std::map<std::string, size_t, std::less<>> kv_index_;
  std::vector<TensorInfo> tensors_;
  std::map<std::string, size_t, std::less<>> tensor_index_;
};

// Streaming writer: collect metadata and tensors, then write() lays out the file (v3).
class Writer {
 public:
  explicit Writer(uint64_t alignment = 32) : alignment_(alignment) {}
  void set(std::string key, Value value);
  // `data` must hold exactly the tensor's bytes for `type` and `dims` (copied).
  Status add_tensor(std::string name, uint32_t type, std::vector<uint64_t> dims,
                    std::span<const uint8_t> data);
  // Lazy tensor: `fill(dst)` writes the n_bytes of the tensor when write() reaches it, so
  // multi-gigabyte synthetic models never sit in memory whole.
  Status add_tensor_lazy(std::string name, uint32_t type, std::vector<uint64_t> dims,
                         std::function<void(uint8_t* dst, uint64_t n_bytes)> fill);
  // Writes to `path` + ".tmp" and renames, so a failed write never leaves a partial file.
  Status write(const std::string& path) const;

 private:
  struct Pending {
    std::string name;
    uint32_t type;
    std::vector<uint64_t> dims;
    uint64_t n_bytes;
    std::vector<uint8_t> data;
    std::function<void(uint8_t*, uint64_t)> fill;
  };
  uint64_t alignment_;
  std::vector<std::pair<std::string, Value>> kv_;
  std::vector<Pending> tensors_;
};

}  // namespace qe::gguf
