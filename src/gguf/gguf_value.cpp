#include "gguf/gguf_value.h"

namespace qs {

const char* gguf_value_type_name(GgufValueType t) {
  switch (t) {
    case GgufValueType::UINT8: return "uint8";
    case GgufValueType::INT8: return "int8";
    case GgufValueType::UINT16: return "uint16";
    case GgufValueType::INT16: return "int16";
    case GgufValueType::UINT32: return "uint32";
    case GgufValueType::INT32: return "int32";
    case GgufValueType::FLOAT32: return "float32";
    case GgufValueType::BOOL: return "bool";
    case GgufValueType::STRING: return "string";
    case GgufValueType::ARRAY: return "array";
    case GgufValueType::UINT64: return "uint64";
    case GgufValueType::INT64: return "int64";
    case GgufValueType::FLOAT64: return "float64";
  }
  return "unknown";
}

bool GgufValue::is_integer() const {
  switch (type) {
    case GgufValueType::UINT8: case GgufValueType::INT8: case GgufValueType::UINT16:
    case GgufValueType::INT16: case GgufValueType::UINT32: case GgufValueType::INT32:
    case GgufValueType::UINT64: case GgufValueType::INT64:
      return true;
    default:
      return false;
  }
}

GgufValue GgufValue::make_u16(uint16_t v) {
  GgufValue x; x.type = GgufValueType::UINT16; x.u = v; x.i = v; return x;
}
GgufValue GgufValue::make_u32(uint32_t v) {
  GgufValue x; x.type = GgufValueType::UINT32; x.u = v; x.i = v; return x;
}
GgufValue GgufValue::make_i32(int32_t v) {
  GgufValue x; x.type = GgufValueType::INT32; x.i = v; x.u = static_cast<uint64_t>(v); return x;
}
GgufValue GgufValue::make_u64(uint64_t v) {
  GgufValue x; x.type = GgufValueType::UINT64; x.u = v; x.i = static_cast<int64_t>(v); return x;
}
GgufValue GgufValue::make_f32(float v) {
  GgufValue x; x.type = GgufValueType::FLOAT32; x.f = v; return x;
}
GgufValue GgufValue::make_bool(bool v) {
  GgufValue x; x.type = GgufValueType::BOOL; x.b = v; return x;
}
GgufValue GgufValue::make_str(std::string v) {
  GgufValue x; x.type = GgufValueType::STRING; x.str = std::move(v); return x;
}
GgufValue GgufValue::make_str_array(std::vector<std::string> v) {
  GgufValue x; x.type = GgufValueType::ARRAY; x.elem_type = GgufValueType::STRING;
  x.arr.reserve(v.size());
  for (auto& s : v) x.arr.push_back(make_str(std::move(s)));
  return x;
}
GgufValue GgufValue::make_i32_array(const std::vector<int32_t>& v) {
  GgufValue x; x.type = GgufValueType::ARRAY; x.elem_type = GgufValueType::INT32;
  x.arr.reserve(v.size());
  for (int32_t e : v) x.arr.push_back(make_i32(e));
  return x;
}
GgufValue GgufValue::make_f32_array(const std::vector<float>& v) {
  GgufValue x; x.type = GgufValueType::ARRAY; x.elem_type = GgufValueType::FLOAT32;
  x.arr.reserve(v.size());
  for (float e : v) x.arr.push_back(make_f32(e));
  return x;
}

}  // namespace qs
