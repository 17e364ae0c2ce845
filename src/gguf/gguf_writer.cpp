#include "gguf/gguf_writer.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace qs {

namespace {

constexpr size_t kBufferBytes = size_t{8} << 20;  // 8 MiB: few syscalls, bounded memory

[[noreturn]] void fail(const std::string& what) { throw std::runtime_error("gguf writer: " + what); }

}  // namespace

GgufWriter::GgufWriter(std::string path, uint64_t alignment)
    : path_(std::move(path)), tmp_path_(path_ + ".tmp"), alignment_(alignment) {
  if (alignment_ == 0 || (alignment_ & (alignment_ - 1)) != 0) fail("alignment must be a power of two");
  fp_ = std::fopen(tmp_path_.c_str(), "wb");
  if (!fp_) fail("cannot create " + tmp_path_ + ": " + std::strerror(errno));
  buf_.reserve(kBufferBytes);
}

GgufWriter::GgufWriter(std::vector<uint8_t>* sink, uint64_t alignment) : sink_(sink), alignment_(alignment) {
  if (!sink_) fail("null sink");
  if (alignment_ == 0 || (alignment_ & (alignment_ - 1)) != 0) fail("alignment must be a power of two");
  sink_->clear();
}

GgufWriter::~GgufWriter() {
  if (fp_) {  // not finished: drop the partial file
    std::fclose(fp_);
    std::remove(tmp_path_.c_str());
  }
}

void GgufWriter::set(const std::string& key, GgufValue v) {
  if (header_done_) fail("metadata key '" + key + "' set after the header was written");
  if (key.empty()) fail("empty metadata key");
  for (auto& kv : kv_) {
    if (kv.first == key) {
      kv.second = std::move(v);
      return;
    }
  }
  kv_.emplace_back(key, std::move(v));
}

void GgufWriter::add_tensor(const std::string& name, std::vector<int64_t> ne, GgmlType type) {
  if (header_done_) fail("tensor '" + name + "' added after the header was written");
  if (name.empty()) fail("empty tensor name");
  if (ne.empty() || ne.size() > 4) fail("tensor '" + name + "' needs 1 to 4 dimensions");
  for (const auto& t : tensors_)
    if (t.name == name) fail("duplicate tensor '" + name + "'");
  int64_t n = 1;
  for (int64_t d : ne) {
    if (d <= 0) fail("tensor '" + name + "' has a non-positive dimension");
    n *= d;
  }
  const TypeTraits& tt = traits(type);
  if (ne[0] % tt.block_size != 0)
    fail("tensor '" + name + "': row length " + std::to_string(ne[0]) + " is not a multiple of the " +
         std::string(tt.name) + " block size " + std::to_string(tt.block_size));
  const size_t nbytes = static_cast<size_t>(n / tt.block_size) * tt.type_size;
  tensors_.push_back(Tensor{name, std::move(ne), type, nbytes, next_offset_});
  next_offset_ += (nbytes + alignment_ - 1) / alignment_ * alignment_;
}

void GgufWriter::flush_buffer() {
  if (buf_.empty()) return;
  if (std::fwrite(buf_.data(), 1, buf_.size(), fp_) != buf_.size())
    fail("write to " + tmp_path_ + " failed: " + std::strerror(errno));
  buf_.clear();
}

void GgufWriter::emit(const void* p, size_t n) {
  const auto* b = static_cast<const uint8_t*>(p);
  pos_ += n;
  if (sink_) {
    sink_->insert(sink_->end(), b, b + n);
    return;
  }
  if (buf_.size() + n > kBufferBytes) flush_buffer();
  if (n >= kBufferBytes) {  // big chunk: straight through
    if (std::fwrite(b, 1, n, fp_) != n) fail("write to " + tmp_path_ + " failed: " + std::strerror(errno));
    return;
  }
  buf_.insert(buf_.end(), b, b + n);
}

void GgufWriter::emit_str(const std::string& s) {
  emit_u64(s.size());
  emit(s.data(), s.size());
}

void GgufWriter::emit_scalar(const GgufValue& v, GgufValueType t) {
  switch (t) {
    case GgufValueType::UINT8: { uint8_t x = static_cast<uint8_t>(v.u); emit(&x, 1); break; }
    case GgufValueType::INT8: { int8_t x = static_cast<int8_t>(v.i); emit(&x, 1); break; }
    case GgufValueType::UINT16: { uint16_t x = static_cast<uint16_t>(v.u); emit(&x, 2); break; }
    case GgufValueType::INT16: { int16_t x = static_cast<int16_t>(v.i); emit(&x, 2); break; }
    case GgufValueType::UINT32: { uint32_t x = static_cast<uint32_t>(v.u); emit(&x, 4); break; }
    case GgufValueType::INT32: { int32_t x = static_cast<int32_t>(v.i); emit(&x, 4); break; }
    case GgufValueType::UINT64: emit(&v.u, 8); break;
    case GgufValueType::INT64: emit(&v.i, 8); break;
    case GgufValueType::FLOAT32: { float x = static_cast<float>(v.f); emit(&x, 4); break; }
    case GgufValueType::FLOAT64: emit(&v.f, 8); break;
    case GgufValueType::BOOL: { uint8_t x = v.b ? 1 : 0; emit(&x, 1); break; }
    case GgufValueType::STRING: emit_str(v.str); break;
    case GgufValueType::ARRAY: fail("arrays of arrays are not supported");
  }
}

void GgufWriter::emit_value(const GgufValue& v) {
  emit_u32(static_cast<uint32_t>(v.type));
  if (v.type != GgufValueType::ARRAY) {
    emit_scalar(v, v.type);
    return;
  }
  emit_u32(static_cast<uint32_t>(v.elem_type));
  emit_u64(v.arr.size());
  for (const GgufValue& e : v.arr) {
    if (e.type != v.elem_type)
      fail(std::string("array element of type ") + gguf_value_type_name(e.type) + " in an array of " +
           gguf_value_type_name(v.elem_type));
    emit_scalar(e, v.elem_type);
  }
}

void GgufWriter::pad_to_alignment() {
  static const uint8_t zeros[256] = {};
  uint64_t pad = (alignment_ - pos_ % alignment_) % alignment_;
  while (pad > 0) {
    const size_t k = static_cast<size_t>(std::min<uint64_t>(pad, sizeof(zeros)));
    emit(zeros, k);
    pad -= k;
  }
}

void GgufWriter::write_header() {
  if (header_done_) fail("header written twice");
  bool has_alignment = false;
  for (const auto& kv : kv_) has_alignment |= kv.first == "general.alignment";
  if (has_alignment) {
    for (const auto& kv : kv_)
      if (kv.first == "general.alignment" && (!kv.second.is_integer() || kv.second.u != alignment_))
        fail("general.alignment disagrees with the writer's alignment");
  } else {
    kv_.emplace_back("general.alignment", GgufValue::make_u32(static_cast<uint32_t>(alignment_)));
  }

  emit("GGUF", 4);
  emit_u32(3);
  emit_u64(tensors_.size());
  emit_u64(kv_.size());
  for (const auto& [key, v] : kv_) {
    emit_str(key);
    emit_value(v);
  }
  for (const Tensor& t : tensors_) {
    emit_str(t.name);
    emit_u32(static_cast<uint32_t>(t.ne.size()));
    for (int64_t d : t.ne) emit_u64(static_cast<uint64_t>(d));
    emit_u32(static_cast<uint32_t>(t.type));
    emit_u64(t.offset);
  }
  pad_to_alignment();
  data_start_ = pos_;
  header_done_ = true;
}

void GgufWriter::write_tensor_data(const std::string& name, const void* data, size_t n) {
  if (!header_done_) fail("tensor data written before the header");
  if (cur_ >= tensors_.size()) fail("tensor '" + name + "': all tensors are already written");
  const Tensor& t = tensors_[cur_];
  if (t.name != name) fail("tensor '" + name + "' written out of order (expected '" + t.name + "')");
  if (n > t.nbytes - cur_written_)
    fail("tensor '" + name + "': " + std::to_string(cur_written_ + n) + " bytes written, it holds " +
         std::to_string(t.nbytes));
  if (cur_written_ == 0 && pos_ != data_start_ + t.offset) fail("internal: tensor offset drift at '" + name + "'");
  emit(data, n);
  cur_written_ += n;
  if (cur_written_ == t.nbytes) {
    pad_to_alignment();
    ++cur_;
    cur_written_ = 0;
  }
}

void GgufWriter::finish() {
  if (finished_) return;
  if (!header_done_) write_header();
  if (cur_ != tensors_.size())
    fail("finish() with tensor '" + tensors_[cur_].name + "' incomplete (" + std::to_string(cur_written_) + " of " +
         std::to_string(tensors_[cur_].nbytes) + " bytes)");
  finished_ = true;
  if (!fp_) return;
  flush_buffer();
  const bool ok = std::fflush(fp_) == 0;
  const bool closed = std::fclose(fp_) == 0;
  fp_ = nullptr;
  if (!ok || !closed) {
    std::remove(tmp_path_.c_str());
    fail("cannot finish writing " + tmp_path_);
  }
  if (std::rename(tmp_path_.c_str(), path_.c_str()) != 0) {
    std::remove(tmp_path_.c_str());
    fail("cannot rename " + tmp_path_ + " to " + path_ + ": " + std::strerror(errno));
  }
}

std::vector<uint8_t> gguf_build_in_memory(const std::vector<std::pair<std::string, GgufValue>>& kv,
                                          const std::vector<GgufTensorBlob>& tensors, uint64_t alignment) {
  std::vector<uint8_t> out;
  GgufWriter w(&out, alignment);
  for (const auto& [k, v] : kv) w.set(k, v);
  for (const auto& t : tensors) w.add_tensor(t.name, t.ne, t.type);
  w.write_header();
  for (size_t i = 0; i < tensors.size(); ++i) {
    if (tensors[i].data.size() != w.tensor_nbytes(i))
      fail("tensor '" + tensors[i].name + "' has " + std::to_string(tensors[i].data.size()) + " bytes, needs " +
           std::to_string(w.tensor_nbytes(i)));
    w.write_tensor_data(tensors[i].name, tensors[i].data.data(), tensors[i].data.size());
  }
  w.finish();
  return out;
}

}  // namespace qs
