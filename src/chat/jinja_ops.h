// Python operator semantics for template values: arithmetic, membership, attribute and item access, slicing.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "chat/jinja_value.h"

namespace qs::jinja {

// op is one of + - * / // % **; max_len bounds strings and lists the operation may build.
Value binary_op(const std::string& op, const Value& a, const Value& b, size_t max_len);
Value negate(const Value& v);
bool contains(const Value& container, const Value& item);
std::vector<Value> iterate(const Value& v);  // list(v): dict keys, string code points; undefined -> empty

Value get_attr(const Value& obj, const std::string& name);  // obj.name: attribute first, then item
Value get_item(const Value& obj, const Value& key);         // obj[key]: item first, then attribute
Value get_slice(const Value& obj, const Value& start, const Value& stop, const Value& step);

// Python's %-formatting for `"..." % args` (s, r, d, i, f, g, e, x, o, c and %%).
// Python's printf-style `fmt % args`; output past max_len and fields past kMaxFormatField are errors.
std::string percent_format(const std::string& fmt, const Value& args, size_t max_len);

// Largest width or precision a '%' format, indent or tojson(indent) may ask for.
inline constexpr int64_t kMaxFormatField = 4096;

}  // namespace qs::jinja
