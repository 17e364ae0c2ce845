// Structured corruption of a valid GGUF, for the hostile-file tests: walks the file's layout with its
// own minimal reader (independent of src/gguf), records where every header field, string and tensor
// record sits, and produces systematically broken variants of it — each numeric field at 0, max,
// "negative", ±1; string lengths absurd; invalid UTF-8; unknown and nested value types; tensor
// offsets overlapping or past the end; dimensions whose product overflows; unknown tensor types;
// truncation at every field boundary. A variant is a list of byte patches (or a shorter length),
// so the caller applies it in place and restores the original bytes afterwards.
#pragma once
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

namespace qs::test {

struct GgufVariant {
  std::string what;         // e.g. "tensor 'blk.0.attn_norm.weight' dim 0 = 0"
  std::string category;     // "field", "overlap", "out-of-file", "overflow", "type-id", "utf8", "nested", "truncate"
  bool must_refuse = true;  // false: the change may leave a well-formed file (e.g. INT32 ↔ UINT32)
  std::vector<std::pair<size_t, std::vector<uint8_t>>> patches;
  size_t length = SIZE_MAX;  // < size: the file cut here
};

class GgufCorruptor {
 public:
  explicit GgufCorruptor(const std::vector<uint8_t>& file) : b_(file) { walk(); }

  std::vector<GgufVariant> variants() const {
    std::vector<GgufVariant> out;
    for (const Field& f : fields_) field_variants(f, out);
    tensor_variants(out);
    string_variants(out);
    for (size_t cut : boundaries_) {
      GgufVariant v{"truncated at byte " + std::to_string(cut) + " of " + std::to_string(b_.size()), "truncate", true, {}, cut};
      out.push_back(std::move(v));
    }
    // A cut inside the data section (the last tensor loses its tail) and one byte short.
    out.push_back({"truncated in the data section", "truncate", true, {}, data_start_ + (b_.size() - data_start_) / 2});
    out.push_back({"truncated by one byte", "truncate", true, {}, b_.size() - 1});
    return out;
  }

  size_t tensor_count() const { return tensors_.size(); }

 private:
  enum class Kind { Version, TensorCount, KvCount, KeyLen, ValueType, StrLen, ArrayType, ArrayLen, Bool, NameLen, NDims, Dim, TensorType, TensorOffset };
  struct Field {
    size_t off;
    int width;
    Kind kind;
    std::string owner;
  };
  struct Str {
    size_t off, len;
    std::string owner;
  };
  struct Tensor {
    std::string name;
    std::vector<size_t> dim_off;
    std::vector<uint64_t> dims;
    size_t type_off = 0, offset_off = 0;
    uint64_t offset = 0;
  };

  template <class T>
  T rd(size_t at) const {
    if (at + sizeof(T) > b_.size()) throw std::runtime_error("corruptor: input GGUF is not valid");
    T v;
    std::memcpy(&v, b_.data() + at, sizeof(T));
    return v;
  }
  void field(Kind k, int width, const std::string& owner) {
    fields_.push_back({p_, width, k, owner});
    boundaries_.push_back(p_);
    p_ += static_cast<size_t>(width);
  }
  std::string string(Kind len_kind, const std::string& owner, bool sample) {
    const uint64_t len = rd<uint64_t>(p_);
    if (sample) field(len_kind, 8, owner);
    else p_ += 8;
    std::string s(reinterpret_cast<const char*>(b_.data() + p_), static_cast<size_t>(len));
    if (sample && len > 0) strings_.push_back({p_, static_cast<size_t>(len), owner});
    p_ += static_cast<size_t>(len);
    return s;
  }
  static size_t scalar_size(uint32_t t) {
    static const size_t sz[] = {1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8};
    return t < 13 ? sz[t] : 0;
  }
  // One value; big arrays (vocabularies) are walked whole but only three elements become fields.
  void value(uint32_t type, const std::string& owner, bool sample) {
    if (type == 8) {
      string(Kind::StrLen, owner + " string", sample);
    } else if (type == 9) {
      const uint32_t et = rd<uint32_t>(p_);
      field(Kind::ArrayType, 4, owner + " array type");
      const uint64_t n = rd<uint64_t>(p_);
      field(Kind::ArrayLen, 8, owner + " array length");
      for (uint64_t k = 0; k < n; ++k)
        value(et, owner + "[" + std::to_string(k) + "]", sample && (k < 2 || k + 1 == n));
    } else {
      if (type == 7 && sample) field(Kind::Bool, 1, owner);
      else p_ += scalar_size(type);
    }
  }
  void walk() {
    if (b_.size() < 24 || std::memcmp(b_.data(), "GGUF", 4) != 0) throw std::runtime_error("corruptor: not a GGUF");
    p_ = 4;
    field(Kind::Version, 4, "header");
    const uint64_t n_tensors = rd<uint64_t>(p_);
    field(Kind::TensorCount, 8, "header");
    const uint64_t n_kv = rd<uint64_t>(p_);
    field(Kind::KvCount, 8, "header");
    uint64_t alignment = 32;
    for (uint64_t k = 0; k < n_kv; ++k) {
      const std::string key = string(Kind::KeyLen, "key #" + std::to_string(k), true);
      const uint32_t type = rd<uint32_t>(p_);
      field(Kind::ValueType, 4, "key '" + key + "'");
      if (key == "general.alignment") alignment = rd<uint32_t>(p_);
      value(type, "key '" + key + "'", true);
    }
    for (uint64_t k = 0; k < n_tensors; ++k) {
      Tensor t;
      t.name = string(Kind::NameLen, "tensor #" + std::to_string(k), true);
      const std::string who = "tensor '" + t.name + "'";
      const uint32_t nd = rd<uint32_t>(p_);
      field(Kind::NDims, 4, who);
      for (uint32_t d = 0; d < nd; ++d) {
        t.dim_off.push_back(p_);
        t.dims.push_back(rd<uint64_t>(p_));
        field(Kind::Dim, 8, who + " dim " + std::to_string(d));
      }
      t.type_off = p_;
      field(Kind::TensorType, 4, who);
      t.offset_off = p_;
      t.offset = rd<uint64_t>(p_);
      field(Kind::TensorOffset, 8, who);
      tensors_.push_back(std::move(t));
    }
    data_start_ = (p_ + alignment - 1) / alignment * alignment;
    alignment_ = alignment;
  }

  static std::vector<uint8_t> le(uint64_t v, int width) {
    std::vector<uint8_t> out(static_cast<size_t>(width));
    for (int i = 0; i < width; ++i) out[static_cast<size_t>(i)] = static_cast<uint8_t>(v >> (8 * i));
    return out;
  }
  uint64_t get(const Field& f) const {
    uint64_t v = 0;
    for (int i = 0; i < f.width; ++i) v |= uint64_t{b_[f.off + static_cast<size_t>(i)]} << (8 * i);
    return v;
  }

  void field_variants(const Field& f, std::vector<GgufVariant>& out) const {
    const uint64_t orig = get(f);
    const uint64_t max = f.width == 8 ? UINT64_MAX : (uint64_t{1} << (8 * f.width)) - 1;
    const uint64_t neg = uint64_t{1} << (8 * f.width - 1);
    const std::pair<const char*, uint64_t> values[] = {{"0", 0}, {"max", max}, {"negative", neg},
                                                       {"+1", (orig + 1) & max}, {"-1", (orig - 1) & max}};
    for (const auto& [label, v] : values) {
      if (v == orig) continue;
      GgufVariant var;
      var.what = f.owner + " " + kind_name(f.kind) + " = " + label + " (" + std::to_string(v) + ", was " + std::to_string(orig) + ")";
      var.category = "field";
      var.must_refuse = must_refuse(f.kind, orig, v);
      var.patches.push_back({f.off, le(v, f.width)});
      out.push_back(std::move(var));
    }
  }

  // Which changes can never leave a loadable file. The rest (a value type swapped for one of the same
  // width, a tensor type for a smaller one, a bool flipped) may load and must then run cleanly.
  static bool must_refuse(Kind k, uint64_t orig, uint64_t v) {
    switch (k) {
      case Kind::Version: return v != 2 && v != 3;
      case Kind::ValueType: case Kind::ArrayType: return v > 12 || v == 9;
      case Kind::Bool: return v > 1;
      case Kind::TensorType: return v > 39;
      case Kind::KeyLen: case Kind::NameLen: case Kind::StrLen: case Kind::ArrayLen:
        return v > orig + (uint64_t{1} << 40) || (v == 0 && k != Kind::StrLen && k != Kind::ArrayLen);
      case Kind::NDims: return v == 0 || v > 4;
      case Kind::Dim: return v == 0 || v > (uint64_t{1} << 62);
      case Kind::TensorOffset: return true;  // misaligned, past the end, or onto another tensor
      case Kind::TensorCount: case Kind::KvCount: return v > orig;
    }
    return false;
  }

  static const char* kind_name(Kind k) {
    switch (k) {
      case Kind::Version: return "version";
      case Kind::TensorCount: return "tensor count";
      case Kind::KvCount: return "metadata count";
      case Kind::KeyLen: return "key length";
      case Kind::ValueType: return "value type";
      case Kind::StrLen: return "length";
      case Kind::ArrayType: return "";
      case Kind::ArrayLen: return "";
      case Kind::Bool: return "bool";
      case Kind::NameLen: return "name length";
      case Kind::NDims: return "dimension count";
      case Kind::Dim: return "";
      case Kind::TensorType: return "type id";
      case Kind::TensorOffset: return "data offset";
    }
    return "";
  }

  void tensor_variants(std::vector<GgufVariant>& out) const {
    const uint64_t data_size = b_.size() > data_start_ ? b_.size() - data_start_ : 0;
    for (size_t k = 0; k < tensors_.size(); ++k) {
      const Tensor& t = tensors_[k];
      const std::string who = "tensor '" + t.name + "'";
      // Onto its neighbour's data (overlap), at the end of the file, and far past it.
      const Tensor& other = tensors_[k == 0 ? (tensors_.size() > 1 ? 1 : 0) : k - 1];
      if (&other != &t && other.offset != t.offset)
        out.push_back({who + " data offset = " + other.name + "'s (overlap)", "overlap", true, {{t.offset_off, le(other.offset, 8)}}, SIZE_MAX});
      const uint64_t end = (data_size + alignment_ - 1) / alignment_ * alignment_;
      out.push_back({who + " data offset = end of file", "out-of-file", true, {{t.offset_off, le(end, 8)}}, SIZE_MAX});
      out.push_back({who + " data offset far past the file", "out-of-file", true,
                     {{t.offset_off, le(uint64_t{1} << 40, 8)}}, SIZE_MAX});
      out.push_back({who + " data offset wraps around", "out-of-file", true,
                     {{t.offset_off, le(UINT64_MAX - alignment_ + 1, 8)}}, SIZE_MAX});
      // Dimensions whose product overflows 64 bits (each one alone is plausible).
      if (t.dims.size() >= 2) {
        out.push_back({who + " dims 2^32 x 2^32", "overflow", true,
                       {{t.dim_off[0], le(uint64_t{1} << 32, 8)}, {t.dim_off[1], le(uint64_t{1} << 32, 8)}}, SIZE_MAX});
        out.push_back({who + " dims 2^40 x 2^30", "overflow", true,
                       {{t.dim_off[0], le(uint64_t{1} << 40, 8)}, {t.dim_off[1], le(uint64_t{1} << 30, 8)}}, SIZE_MAX});
      }
      out.push_back({who + " dim 0 = 2^63", "overflow", true, {{t.dim_off[0], le(uint64_t{1} << 63, 8)}}, SIZE_MAX});
      out.push_back({who + " dim 0 = 2^62 (too large for the file)", "overflow", true,
                     {{t.dim_off[0], le(uint64_t{1} << 62, 8)}}, SIZE_MAX});
      // Tensor type ids that do not exist or are no longer stored (4, 5: removed Q4_2/Q4_3).
      for (uint32_t id : {4u, 5u, 40u, 1000u, 0x7fffffffu, 0xffffffffu})
        out.push_back({who + " type id " + std::to_string(id), "type-id", true, {{t.type_off, le(id, 4)}}, SIZE_MAX});
    }
    // Value types: every key's type made unknown, and every array made an array of arrays.
    for (const Field& f : fields_) {
      if (f.kind == Kind::ValueType)
        out.push_back({f.owner + " value type 13", "type-id", true, {{f.off, le(13, 4)}}, SIZE_MAX});
      if (f.kind == Kind::ArrayType)
        out.push_back({f.owner + " nested array", "nested", true, {{f.off, le(9, 4)}}, SIZE_MAX});
    }
  }

  void string_variants(std::vector<GgufVariant>& out) const {
    for (const Str& s : strings_) {
      out.push_back({s.owner + ": byte 0xFF", "utf8", true, {{s.off, {0xFF}}}, SIZE_MAX});
      if (b_[s.off + s.len - 1] < 0x80)  // after a multi-byte character a continuation byte may still fit
        out.push_back({s.owner + ": lone continuation byte", "utf8", true, {{s.off + s.len - 1, {0x80}}}, SIZE_MAX});
      if (s.len >= 2) out.push_back({s.owner + ": overlong NUL", "utf8", true, {{s.off, {0xC0, 0x80}}}, SIZE_MAX});
      if (s.len >= 3)
        out.push_back({s.owner + ": UTF-16 surrogate", "utf8", true, {{s.off, {0xED, 0xA0, 0x80}}}, SIZE_MAX});
      out.push_back({s.owner + ": truncated sequence at the end", "utf8", true, {{s.off + s.len - 1, {0xE4}}}, SIZE_MAX});
    }
  }

  const std::vector<uint8_t>& b_;
  size_t p_ = 0;
  size_t data_start_ = 0;
  uint64_t alignment_ = 32;
  std::vector<Field> fields_;
  std::vector<Str> strings_;
  std::vector<Tensor> tensors_;
  std::vector<size_t> boundaries_;
};

}  // namespace qs::test
