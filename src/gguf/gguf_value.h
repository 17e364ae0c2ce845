// Metadata values of a GGUF file (the key/value section).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace qs {

// On-disk gguf_type ids; never renumber.
enum class GgufValueType : uint32_t {
  UINT8 = 0, INT8 = 1, UINT16 = 2, INT16 = 3, UINT32 = 4, INT32 = 5, FLOAT32 = 6,
  BOOL = 7, STRING = 8, ARRAY = 9, UINT64 = 10, INT64 = 11, FLOAT64 = 12,
};

const char* gguf_value_type_name(GgufValueType t);

// One value. Integers of every width are held in i or u (whichever the sign says), floats in f.
// Arrays hold flat elements of one scalar type (nested arrays are refused by the reader).
struct GgufValue {
  GgufValueType type = GgufValueType::UINT8;
  int64_t i = 0;
  uint64_t u = 0;
  double f = 0.0;
  bool b = false;
  std::string str;
  GgufValueType elem_type = GgufValueType::UINT8;  // for ARRAY
  std::vector<GgufValue> arr;

  bool is_integer() const;
  bool is_float() const { return type == GgufValueType::FLOAT32 || type == GgufValueType::FLOAT64; }
  static GgufValue make_u16(uint16_t v);
  static GgufValue make_u32(uint32_t v);
  static GgufValue make_i32(int32_t v);
  static GgufValue make_u64(uint64_t v);
  static GgufValue make_f32(float v);
  static GgufValue make_bool(bool v);
  static GgufValue make_str(std::string v);
  static GgufValue make_str_array(std::vector<std::string> v);
  static GgufValue make_i32_array(const std::vector<int32_t>& v);
  static GgufValue make_f32_array(const std::vector<float>& v);
};

}  // namespace qs
