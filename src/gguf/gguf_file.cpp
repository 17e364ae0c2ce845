#include "gguf/gguf_file.h"
#include "util/utf8_check.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <limits>
#include <string_view>

namespace qs {

namespace {

// Bounds-checked little-endian cursor over the mapped bytes.
class Cursor {
 public:
  Cursor(const uint8_t* p, size_t n, const std::string& label) : p_(p), n_(n), label_(label) {}
  size_t pos() const { return pos_; }
  size_t remaining() const { return n_ - pos_; }

  [[noreturn]] void fail(const std::string& what) const {
    throw GgufError(label_ + ": " + what + " (at byte " + std::to_string(pos_) + " of " +
                    std::to_string(n_) + ")");
  }
  // Parsed metadata is held as GgufValue objects, far larger than their bytes on disk (an empty
  // string is 8 bytes in the file and ~100 in memory), so their memory is budgeted separately.
  void charge(uint64_t bytes, const std::string& key) {
    charged_ += bytes;
    if (charged_ > GgufFile::kMaxMetadataBytes)
      fail("key '" + key + "': metadata would take more than " + std::to_string(GgufFile::kMaxMetadataBytes >> 20) +
           " MiB of memory");
  }
  void need(uint64_t bytes, const char* what) const {
    if (bytes > remaining()) fail(std::string("truncated file while reading ") + what);
  }
  template <class T>
  T read(const char* what) {
    need(sizeof(T), what);
    T v;
    std::memcpy(&v, p_ + pos_, sizeof(T));
    pos_ += sizeof(T);
    return v;
  }
  std::string read_string(const char* what) {
    const uint64_t len = read<uint64_t>(what);
    if (len > GgufFile::kMaxStringBytes) fail(std::string(what) + ": string length " + std::to_string(len) + " is absurd");
    need(len, what);
    std::string s(reinterpret_cast<const char*>(p_ + pos_), static_cast<size_t>(len));
    // GGUF strings are UTF-8 by specification; names, templates and tokens flow into JSON, regexes
    // and terminals, so a file that breaks this is refused here rather than trusted downstream.
    if (const size_t bad = first_invalid_utf8(s); bad != std::string::npos)
      fail(std::string(what) + ": string is not valid UTF-8 (byte " + std::to_string(bad) + " of " +
           std::to_string(len) + ")");
    pos_ += static_cast<size_t>(len);
    return s;
  }

 private:
  const uint8_t* p_;
  size_t n_;
  size_t pos_ = 0;
  uint64_t charged_ = 0;
  const std::string& label_;
};

size_t scalar_size(GgufValueType t) {
  switch (t) {
    case GgufValueType::UINT8: case GgufValueType::INT8: case GgufValueType::BOOL: return 1;
    case GgufValueType::UINT16: case GgufValueType::INT16: return 2;
    case GgufValueType::UINT32: case GgufValueType::INT32: case GgufValueType::FLOAT32: return 4;
    case GgufValueType::UINT64: case GgufValueType::INT64: case GgufValueType::FLOAT64: return 8;
    case GgufValueType::STRING: return 8;  // at least its length prefix
    case GgufValueType::ARRAY: return 12;
  }
  return 0;
}

bool valid_value_type(uint32_t t) { return t <= static_cast<uint32_t>(GgufValueType::FLOAT64); }

GgufValue read_scalar(Cursor& c, GgufValueType t, const std::string& key) {
  GgufValue v;
  v.type = t;
  const std::string what = "value of key '" + key + "'";
  switch (t) {
    case GgufValueType::UINT8: v.u = c.read<uint8_t>(what.c_str()); v.i = static_cast<int64_t>(v.u); break;
    case GgufValueType::INT8: v.i = c.read<int8_t>(what.c_str()); v.u = static_cast<uint64_t>(v.i); break;
    case GgufValueType::UINT16: v.u = c.read<uint16_t>(what.c_str()); v.i = static_cast<int64_t>(v.u); break;
    case GgufValueType::INT16: v.i = c.read<int16_t>(what.c_str()); v.u = static_cast<uint64_t>(v.i); break;
    case GgufValueType::UINT32: v.u = c.read<uint32_t>(what.c_str()); v.i = static_cast<int64_t>(v.u); break;
    case GgufValueType::INT32: v.i = c.read<int32_t>(what.c_str()); v.u = static_cast<uint64_t>(v.i); break;
    case GgufValueType::UINT64: v.u = c.read<uint64_t>(what.c_str()); v.i = static_cast<int64_t>(v.u); break;
    case GgufValueType::INT64: v.i = c.read<int64_t>(what.c_str()); v.u = static_cast<uint64_t>(v.i); break;
    case GgufValueType::FLOAT32: v.f = c.read<float>(what.c_str()); break;
    case GgufValueType::FLOAT64: v.f = c.read<double>(what.c_str()); break;
    case GgufValueType::BOOL: {
      const uint8_t b = c.read<uint8_t>(what.c_str());
      if (b > 1) c.fail("key '" + key + "': bool value " + std::to_string(b) + " is neither 0 nor 1");
      v.b = b != 0;
      break;
    }
    case GgufValueType::STRING:
      v.str = c.read_string(what.c_str());
      c.charge(v.str.size(), key);
      break;
    case GgufValueType::ARRAY: c.fail("key '" + key + "': arrays of arrays are not supported");
  }
  return v;
}

GgufValue read_value(Cursor& c, GgufValueType t, const std::string& key) {
  if (t != GgufValueType::ARRAY) return read_scalar(c, t, key);
  GgufValue v;
  v.type = GgufValueType::ARRAY;
  const uint32_t et = c.read<uint32_t>("array element type");
  if (!valid_value_type(et)) c.fail("key '" + key + "': unknown array element type " + std::to_string(et));
  v.elem_type = static_cast<GgufValueType>(et);
  if (v.elem_type == GgufValueType::ARRAY) c.fail("key '" + key + "': arrays of arrays are not supported");
  const uint64_t n = c.read<uint64_t>("array length");
  // Each element takes at least scalar_size bytes, so a count beyond that is a lie.
  if (n > GgufFile::kMaxArrayElems || n > c.remaining() / scalar_size(v.elem_type))
    c.fail("key '" + key + "': array length " + std::to_string(n) + " exceeds what the file can hold");
  c.charge(n * sizeof(GgufValue), key);
  v.arr.reserve(static_cast<size_t>(n));
  for (uint64_t k = 0; k < n; ++k) v.arr.push_back(read_scalar(c, v.elem_type, key));
  return v;
}

bool mul_overflows(uint64_t a, uint64_t b, uint64_t* out) {
  return __builtin_mul_overflow(a, b, out);
}

}  // namespace

int64_t GgufTensorInfo::n_elements() const {
  int64_t n = 1;
  for (int64_t d : ne) n *= d;  // validated not to overflow at parse time
  return n;
}

std::unique_ptr<GgufFile> GgufFile::open_one(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw GgufError(path + ": cannot open: " + std::strerror(errno));
  struct stat st {};
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    throw GgufError(path + ": not a regular file");
  }
  std::unique_ptr<GgufFile> f(new GgufFile());
  f->path_ = path;
  f->size_ = static_cast<size_t>(st.st_size);
  if (f->size_ > 0) {
    void* p = mmap(nullptr, f->size_, PROT_READ, MAP_SHARED, fd, 0);
    if (p == MAP_FAILED) {
      ::close(fd);
      throw GgufError(path + ": mmap failed: " + std::strerror(errno));
    }
    f->base_ = static_cast<const uint8_t*>(p);
    f->mapped_ = true;
  }
  ::close(fd);
  f->parse();
  return f;
}

std::unique_ptr<GgufFile> GgufFile::from_memory(const uint8_t* data, size_t size, std::string label) {
  std::unique_ptr<GgufFile> f(new GgufFile());
  f->path_ = std::move(label);
  f->base_ = data;
  f->size_ = size;
  f->parse();
  return f;
}

GgufFile::~GgufFile() {
  if (mapped_ && base_) munmap(const_cast<uint8_t*>(base_), size_);
}

void GgufFile::parse() {
  Cursor c(base_, size_, path_);
  if (size_ < 4 || std::memcmp(base_, "GGUF", 4) != 0) throw GgufError(path_ + ": not a GGUF file (bad magic)");
  c.read<uint32_t>("magic");
  version_ = c.read<uint32_t>("version");
  if (version_ == 1) throw GgufError(path_ + ": GGUF version 1 is obsolete; re-convert the model");
  if (version_ != 2 && version_ != 3) {
    if ((version_ & 0xffff) == 0 && version_ != 0)
      throw GgufError(path_ + ": big-endian GGUF files are not supported");
    throw GgufError(path_ + ": unsupported GGUF version " + std::to_string(version_) + " (supported: 2, 3)");
  }
  const uint64_t n_tensors = c.read<uint64_t>("tensor count");
  const uint64_t n_kv = c.read<uint64_t>("metadata count");
  if (n_tensors > kMaxTensors || n_tensors > c.remaining() / 24)
    c.fail("tensor count " + std::to_string(n_tensors) + " is impossible for this file");
  if (n_kv > kMaxKeys || n_kv > c.remaining() / 12)
    c.fail("metadata count " + std::to_string(n_kv) + " is impossible for this file");

  for (uint64_t k = 0; k < n_kv; ++k) {
    std::string key = c.read_string("metadata key");
    if (key.empty()) c.fail("empty metadata key");
    const uint32_t t = c.read<uint32_t>("metadata value type");
    if (!valid_value_type(t)) c.fail("key '" + key + "': unknown value type " + std::to_string(t));
    GgufValue v = read_value(c, static_cast<GgufValueType>(t), key);
    if (kv_.count(key)) c.fail("duplicate metadata key '" + key + "'");
    kv_.emplace(std::move(key), std::move(v));
  }

  if (const GgufValue* a = find("general.alignment")) {
    if (!a->is_integer() || a->u == 0 || a->u > (1u << 20) || (a->u & (a->u - 1)) != 0)
      throw GgufError(path_ + ": general.alignment must be a power of two up to 1 MiB");
    alignment_ = a->u;
  }

  tensors_.reserve(static_cast<size_t>(n_tensors));
  for (uint64_t k = 0; k < n_tensors; ++k) {
    GgufTensorInfo ti;
    ti.name = c.read_string("tensor name");
    if (ti.name.empty()) c.fail("tensor " + std::to_string(k) + " has an empty name");
    const std::string who = "tensor '" + ti.name + "'";
    const uint32_t n_dims = c.read<uint32_t>("tensor dimension count");
    if (n_dims == 0 || n_dims > kMaxDims)
      c.fail(who + ": " + std::to_string(n_dims) + " dimensions (1 to 4 allowed)");
    uint64_t n_elem = 1;
    for (uint32_t d = 0; d < n_dims; ++d) {
      const uint64_t dim = c.read<uint64_t>("tensor dimension");
      if (dim == 0 || dim > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
        c.fail(who + ": dimension " + std::to_string(d) + " is " + std::to_string(dim));
      if (mul_overflows(n_elem, dim, &n_elem) || n_elem > (uint64_t{1} << 50))
        c.fail(who + ": element count overflows");
      ti.ne.push_back(static_cast<int64_t>(dim));
    }
    const uint32_t type_id = c.read<uint32_t>("tensor type");
    const auto tt = type_traits(type_id);
    if (!tt || !tt->storable) c.fail(who + ": unsupported tensor type id " + std::to_string(type_id));
    ti.type = static_cast<GgmlType>(type_id);
    if (ti.ne[0] % tt->block_size != 0)
      c.fail(who + ": row length " + std::to_string(ti.ne[0]) + " is not a multiple of the " +
             std::string(tt->name) + " block size " + std::to_string(tt->block_size));
    ti.nbytes = static_cast<size_t>(n_elem / tt->block_size * tt->type_size);
    ti.offset = c.read<uint64_t>("tensor offset");
    if (ti.offset % alignment_ != 0) c.fail(who + ": data offset is not aligned to " + std::to_string(alignment_));
    if (tensor_index_.count(ti.name)) c.fail("duplicate tensor name '" + ti.name + "'");
    tensor_index_.emplace(ti.name, tensors_.size());
    tensors_.push_back(std::move(ti));
  }

  // The data section starts at the next aligned position after the tensor table.
  const uint64_t data_start = (c.pos() + alignment_ - 1) / alignment_ * alignment_;
  if (data_start > size_ && n_tensors > 0) c.fail("data section starts past the end of the file");
  const uint64_t data_size = data_start <= size_ ? size_ - data_start : 0;

  std::vector<const GgufTensorInfo*> by_offset;
  for (auto& ti : tensors_) {
    if (ti.offset > data_size || ti.nbytes > data_size - ti.offset)
      throw GgufError(path_ + ": tensor '" + ti.name + "': data [" + std::to_string(ti.offset) + ", +" +
                      std::to_string(ti.nbytes) + ") lies past the end of the file (data section is " +
                      std::to_string(data_size) + " bytes)");
    ti.data = base_ + data_start + ti.offset;
    by_offset.push_back(&ti);
  }
  std::sort(by_offset.begin(), by_offset.end(),
            [](const GgufTensorInfo* a, const GgufTensorInfo* b) { return a->offset < b->offset; });
  for (size_t k = 1; k < by_offset.size(); ++k) {
    const GgufTensorInfo* prev = by_offset[k - 1];
    if (prev->offset + prev->nbytes > by_offset[k]->offset)
      throw GgufError(path_ + ": tensors '" + prev->name + "' and '" + by_offset[k]->name + "' overlap");
  }
}

const GgufValue* GgufFile::find(const std::string& key) const {
  auto it = kv_.find(key);
  return it == kv_.end() ? nullptr : &it->second;
}

const GgufTensorInfo* GgufFile::find_tensor(const std::string& name) const {
  auto it = tensor_index_.find(name);
  return it == tensor_index_.end() ? nullptr : &tensors_[it->second];
}

std::optional<uint64_t> GgufFile::get_uint(const std::string& key) const {
  const GgufValue* v = find(key);
  if (!v) return std::nullopt;
  if (!v->is_integer()) throw GgufError(path_ + ": key '" + key + "' should be an integer, is " + gguf_value_type_name(v->type));
  const bool is_signed = v->type == GgufValueType::INT8 || v->type == GgufValueType::INT16 ||
                         v->type == GgufValueType::INT32 || v->type == GgufValueType::INT64;
  if (is_signed && v->i < 0) throw GgufError(path_ + ": key '" + key + "' is negative (" + std::to_string(v->i) + ")");
  return v->u;
}

std::optional<double> GgufFile::get_float(const std::string& key) const {
  const GgufValue* v = find(key);
  if (!v) return std::nullopt;
  if (v->is_float()) return v->f;
  if (v->is_integer()) return static_cast<double>(v->i);
  throw GgufError(path_ + ": key '" + key + "' should be a number, is " + gguf_value_type_name(v->type));
}

std::optional<bool> GgufFile::get_bool(const std::string& key) const {
  const GgufValue* v = find(key);
  if (!v) return std::nullopt;
  if (v->type == GgufValueType::BOOL) return v->b;
  if (v->is_integer()) return v->u != 0;
  throw GgufError(path_ + ": key '" + key + "' should be a bool, is " + gguf_value_type_name(v->type));
}

std::optional<std::string> GgufFile::get_string(const std::string& key) const {
  const GgufValue* v = find(key);
  if (!v) return std::nullopt;
  if (v->type != GgufValueType::STRING)
    throw GgufError(path_ + ": key '" + key + "' should be a string, is " + gguf_value_type_name(v->type));
  return v->str;
}

std::vector<std::string> GgufFile::get_string_array(const std::string& key) const {
  const GgufValue* v = find(key);
  if (!v) return {};
  if (v->type != GgufValueType::ARRAY || v->elem_type != GgufValueType::STRING)
    throw GgufError(path_ + ": key '" + key + "' should be an array of strings");
  std::vector<std::string> out;
  out.reserve(v->arr.size());
  for (const auto& e : v->arr) out.push_back(e.str);
  return out;
}

std::vector<int64_t> GgufFile::get_int_array(const std::string& key) const {
  const GgufValue* v = find(key);
  if (!v) return {};
  if (v->type != GgufValueType::ARRAY || (!v->arr.empty() && !v->arr[0].is_integer()) ||
      (v->arr.empty() && (v->elem_type == GgufValueType::STRING || v->elem_type == GgufValueType::FLOAT32)))
    throw GgufError(path_ + ": key '" + key + "' should be an array of integers");
  std::vector<int64_t> out;
  out.reserve(v->arr.size());
  for (const auto& e : v->arr) out.push_back(e.i);
  return out;
}

std::vector<float> GgufFile::get_float_array(const std::string& key) const {
  const GgufValue* v = find(key);
  if (!v) return {};
  if (v->type != GgufValueType::ARRAY || v->elem_type == GgufValueType::STRING || v->elem_type == GgufValueType::BOOL)
    throw GgufError(path_ + ": key '" + key + "' should be an array of numbers");
  std::vector<float> out;
  out.reserve(v->arr.size());
  for (const auto& e : v->arr) out.push_back(e.is_float() ? static_cast<float>(e.f) : static_cast<float>(e.i));
  return out;
}

}  // namespace qs
