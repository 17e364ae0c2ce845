#include "chat/jinja_ops.h"

#include <cmath>
#include <cstdio>

#include "chat/jinja_error.h"
#include "chat/jinja_methods.h"
#include "chat/jinja_pystr.h"

namespace qs::jinja {

namespace {

[[noreturn]] void unsupported_operands(const std::string& op, const Value& a, const Value& b) {
  throw TypeError("unsupported operand type(s) for " + op + ": '" + type_name(a) + "' and '" + type_name(b) + "'");
}

using IntOp = bool (*)(int64_t, int64_t, int64_t*);
int64_t checked(IntOp op, int64_t a, int64_t b) {
  int64_t r = 0;
  if (op(a, b, &r)) throw TypeError("integer overflow (big integers are not supported)");
  return r;
}
bool add_ovf(int64_t a, int64_t b, int64_t* r) { return __builtin_add_overflow(a, b, r); }
bool sub_ovf(int64_t a, int64_t b, int64_t* r) { return __builtin_sub_overflow(a, b, r); }
bool mul_ovf(int64_t a, int64_t b, int64_t* r) { return __builtin_mul_overflow(a, b, r); }

int64_t floor_div(int64_t a, int64_t b) {
  if (b == -1) return checked(sub_ovf, 0, a);
  int64_t q = a / b;
  if ((a % b != 0) && ((a < 0) != (b < 0))) --q;
  return q;
}

int64_t py_mod(int64_t a, int64_t b) {
  if (b == -1) return 0;
  int64_t m = a % b;
  if (m != 0 && ((m < 0) != (b < 0))) m += b;
  return m;
}

// CPython's float_divmod.
void float_divmod(double vx, double wx, double& div, double& mod) {
  mod = std::fmod(vx, wx);
  div = (vx - mod) / wx;
  if (mod != 0) {
    if ((wx < 0) != (mod < 0)) {
      mod += wx;
      div -= 1.0;
    }
  } else {
    mod = std::copysign(0.0, wx);
  }
  if (div != 0) {
    double floordiv = std::floor(div);
    if (div - floordiv > 0.5) floordiv += 1.0;
    div = floordiv;
  } else {
    div = std::copysign(0.0, vx / wx);
  }
}

Value repeat(const Value& seq, int64_t n, size_t max_len) {
  if (n <= 0) return seq.is_string() ? Value(std::string()) : Value::list({}, seq.is_tuple());
  const size_t unit = seq.is_string() ? seq.str().size() : seq.items().size();
  if (unit != 0 && static_cast<uint64_t>(n) > max_len / unit) throw TypeError("result of '*' is too large");
  if (seq.is_string()) {
    std::string out;
    out.reserve(unit * n);
    for (int64_t i = 0; i < n; ++i) out += seq.str();
    return Value(std::move(out));
  }
  std::vector<Value> out;
  for (int64_t i = 0; i < n; ++i) out.insert(out.end(), seq.items().begin(), seq.items().end());
  return Value::list(std::move(out), seq.is_tuple());
}

}  // namespace

Value binary_op(const std::string& op, const Value& a, const Value& b, size_t max_len) {
  if (a.is_undefined()) fail_undefined(a);
  if (b.is_undefined()) fail_undefined(b);
  if (a.is_number() && b.is_number()) {
    const bool ints = a.is_int() && b.is_int();
    const int64_t x = a.as_int(), y = b.as_int();
    const double fx = a.as_float(), fy = b.as_float();
    if (op == "+") return ints ? Value(checked(add_ovf, x, y)) : Value(fx + fy);
    if (op == "-") return ints ? Value(checked(sub_ovf, x, y)) : Value(fx - fy);
    if (op == "*") return ints ? Value(checked(mul_ovf, x, y)) : Value(fx * fy);
    if (op == "/") {
      if (fy == 0) throw TypeError("division by zero");
      return Value(fx / fy);
    }
    if (op == "//" || op == "%") {
      if (ints ? y == 0 : fy == 0) throw TypeError(ints ? "integer division or modulo by zero" : "float modulo");
      if (ints) return Value(op == "//" ? floor_div(x, y) : py_mod(x, y));
      double d, m;
      float_divmod(fx, fy, d, m);
      return Value(op == "//" ? d : m);
    }
    if (op == "**") {
      if (ints && y >= 0) {
        int64_t acc = 1, base = x, e = y;
        while (e > 0) {
          if (e & 1) acc = checked(mul_ovf, acc, base);
          e >>= 1;
          if (e) base = checked(mul_ovf, base, base);
        }
        return Value(acc);
      }
      if (fx == 0 && fy < 0) throw TypeError("0.0 cannot be raised to a negative power");
      return Value(std::pow(fx, fy));
    }
  }
  if (op == "+") {
    if (a.is_string() && b.is_string()) {
      if (a.str().size() + b.str().size() > max_len) throw TypeError("string too long");
      if (a.is_markup() || b.is_markup())  // Markup escapes the plain operand, whichever side it is on
        return Value::markup((a.is_markup() ? a.str() : html_escape(a.str())) +
                             (b.is_markup() ? b.str() : html_escape(b.str())));
      return Value(a.str() + b.str());
    }
    if (a.is_list() && b.is_list() && a.is_tuple() == b.is_tuple()) {
      if (a.items().size() + b.items().size() > max_len) throw TypeError("list too long");
      std::vector<Value> out = a.items();
      out.insert(out.end(), b.items().begin(), b.items().end());
      return Value::list(std::move(out), a.is_tuple());
    }
    if (a.is_string()) throw TypeError(std::string("can only concatenate str (not \"") + type_name(b) + "\") to str");
  }
  if (op == "*") {
    if ((a.is_string() || a.is_list()) && b.is_int()) return repeat(a, b.as_int(), max_len);
    if (a.is_int() && (b.is_string() || b.is_list())) return repeat(b, a.as_int(), max_len);
  }
  if (op == "%" && a.is_string()) return Value(percent_format(a.str(), b, max_len));
  unsupported_operands(op, a, b);
}

Value negate(const Value& v) {
  if (v.is_undefined()) fail_undefined(v);
  if (v.kind() == Kind::Float) return Value(-v.as_float());
  if (v.is_int()) {
    if (v.as_int() == INT64_MIN) throw TypeError("integer overflow (big integers are not supported)");
    return Value(-v.as_int());
  }
  throw TypeError(std::string("bad operand type for unary -: '") + type_name(v) + "'");
}

bool contains(const Value& c, const Value& item) {
  switch (c.kind()) {
    case Kind::String:
      if (!item.is_string())
        throw TypeError(std::string("'in <string>' requires string as left operand, not ") + type_name(item));
      return c.str().find(item.str()) != std::string::npos;
    case Kind::List:
      for (const auto& x : c.items())
        if (values_equal(x, item)) return true;
      return false;
    case Kind::Dict: return item.is_string() && c.dict_obj().find(item.str()) != nullptr;
    case Kind::Undefined: return false;  // jinja2's Undefined iterates as empty
    default: throw TypeError(std::string("argument of type '") + type_name(c) + "' is not iterable");
  }
}

std::vector<Value> iterate(const Value& v) {
  switch (v.kind()) {
    case Kind::List: return v.items();
    case Kind::Dict: {
      std::vector<Value> keys;
      keys.reserve(v.dict_obj().items.size());
      for (const auto& kv : v.dict_obj().items) keys.emplace_back(kv.first);
      return keys;
    }
    case Kind::String: {
      std::vector<Value> chars;
      for (size_t i = 0; i < v.str().size();) {
        const size_t b = i;
        pystr::decode(v.str(), i);
        chars.emplace_back(v.str().substr(b, i - b));
      }
      return chars;
    }
    case Kind::Undefined: return {};
    default: throw TypeError(std::string("'") + type_name(v) + "' object is not iterable");
  }
}

namespace {

Value missing_attr(const Value& obj, const std::string& name) {
  return Value::undefined(pystr::concat({"'", object_type_repr(obj), "' has no attribute '", name, "'"}));
}

Value method_or_missing(const Value& obj, const std::string& name) {
  switch (find_method(obj, name)) {
    case MethodKind::Safe: return bind_method(obj, name);
    case MethodKind::Unsafe:
      return Value::undefined("access to attribute '" + name + "' of '" + type_name(obj) + "' object is unsafe.");
    default: return missing_attr(obj, name);
  }
}

}  // namespace

Value get_attr(const Value& obj, const std::string& name) {
  if (obj.is_undefined()) fail_undefined(obj);
  if (obj.kind() == Kind::Namespace) {
    const Value* v = obj.ns_obj().find(name);
    return v ? *v : missing_attr(obj, name);
  }
  if (find_method(obj, name) != MethodKind::None) return method_or_missing(obj, name);
  if (obj.is_dict()) {
    const Value* v = obj.dict_obj().find(name);
    if (v) return *v;
  }
  return missing_attr(obj, name);
}

Value get_item(const Value& obj, const Value& key) {
  if (obj.is_undefined()) fail_undefined(obj);
  if (key.is_undefined()) fail_undefined(key);
  if (obj.is_dict() && key.is_string()) {
    const Value* v = obj.dict_obj().find(key.str());
    if (v) return *v;
  }
  if ((obj.is_list() || obj.is_string()) && key.is_int()) {
    int64_t i = key.as_int();
    if (obj.is_list()) {
      const auto n = static_cast<int64_t>(obj.items().size());
      if (i < 0) i += n;
      if (i >= 0 && i < n) return obj.items()[i];
    } else if (obj.str().size() > 0) {
      const auto cps = pystr::code_points(obj.str());
      const auto n = static_cast<int64_t>(cps.size());
      if (i < 0) i += n;
      if (i >= 0 && i < n) return Value(pystr::from_code_points(cps, i, i + 1));
    }
    return Value::undefined(
        pystr::concat({"'", object_type_repr(obj), "' has no element ", std::to_string(key.as_int())}));
  }
  if (key.is_string()) {
    if (obj.kind() == Kind::Namespace) return get_attr(obj, key.str());
    return method_or_missing(obj, key.str());
  }
  return Value::undefined(pystr::concat({"'", object_type_repr(obj), "' has no element ", py_repr(key)}));
}

namespace {

// PySlice_AdjustIndices.
void adjust(int64_t len, const Value& vstart, const Value& vstop, const Value& vstep, int64_t& start, int64_t& stop,
            int64_t& step, int64_t& count) {
  auto as_index = [](const Value& v) {
    if (v.is_undefined()) fail_undefined(v);
    if (!v.is_int()) throw TypeError("slice indices must be integers or None");
    return v.as_int();
  };
  step = vstep.is_none() || vstep.is_undefined() ? 1 : as_index(vstep);
  if (step == 0) throw TypeError("slice step cannot be zero");
  const bool neg = step < 0;
  auto clamp = [&](const Value& v, int64_t def) {
    if (v.is_none()) return def;
    int64_t i = as_index(v);
    if (i < 0) {
      i += len;
      if (i < 0) i = neg ? -1 : 0;
    } else if (i >= len) {
      i = neg ? len - 1 : len;
    }
    return i;
  };
  start = clamp(vstart, neg ? len - 1 : 0);
  stop = clamp(vstop, neg ? -1 : len);
  if (neg) count = stop < start ? (start - stop - 1) / (-step) + 1 : 0;
  else count = start < stop ? (stop - start - 1) / step + 1 : 0;
}

}  // namespace

Value get_slice(const Value& obj, const Value& vstart, const Value& vstop, const Value& vstep) {
  if (obj.is_undefined()) fail_undefined(obj);
  int64_t start, stop, step, count;
  if (obj.is_list()) {
    adjust(static_cast<int64_t>(obj.items().size()), vstart, vstop, vstep, start, stop, step, count);
    std::vector<Value> out;
    out.reserve(count);
    for (int64_t k = 0, i = start; k < count; ++k, i += step) out.push_back(obj.items()[i]);
    return Value::list(std::move(out), obj.is_tuple());
  }
  if (obj.is_string()) {
    const auto cps = pystr::code_points(obj.str());
    adjust(static_cast<int64_t>(cps.size()), vstart, vstop, vstep, start, stop, step, count);
    std::string out;
    for (int64_t k = 0, i = start; k < count; ++k, i += step) pystr::append_utf8(out, cps[i]);
    return Value(std::move(out));
  }
  return Value::undefined(pystr::concat({"'", object_type_repr(obj), "' object is not subscriptable"}));
}

namespace {

// The numbers in a '%' conversion's flags ("-08.3" -> width 8, precision 3), refused past kMaxFormatField:
// glibc builds the whole field before snprintf truncates, so '%.999999999f' took seconds and gigabytes.
void check_format_fields(const std::string& spec) {
  int64_t n = 0;
  bool digits = false;
  auto done = [&] {
    if (digits && n > kMaxFormatField)
      throw TypeError("format width or precision " + std::to_string(n) + " exceeds the template limit (" +
                      std::to_string(kMaxFormatField) + ")");
    n = 0;
    digits = false;
  };
  for (char c : spec) {
    if (c >= '0' && c <= '9') {
      n = std::min<int64_t>(n * 10 + (c - '0'), kMaxFormatField + 1);
      digits = true;
    } else {
      done();
    }
  }
  done();
}

// snprintf into a string of the size it needs (fields are bounded, so this is at most a few KiB).
template <typename T>
void append_formatted(std::string& out, const std::string& spec, T value) {
  const int n = std::snprintf(nullptr, 0, spec.c_str(), value);
  if (n <= 0) return;
  const size_t at = out.size();
  out.resize(at + static_cast<size_t>(n) + 1);
  std::snprintf(out.data() + at, static_cast<size_t>(n) + 1, spec.c_str(), value);
  out.resize(at + static_cast<size_t>(n));
}

}  // namespace

std::string percent_format(const std::string& fmt, const Value& args, size_t max_len) {
  const std::vector<Value> vals = args.is_list() && args.is_tuple() ? args.items() : std::vector<Value>{args};
  size_t next = 0;
  std::string out;
  for (size_t i = 0; i < fmt.size(); ++i) {
    if (out.size() > max_len) throw TypeError("value too large (limit " + std::to_string(max_len) + ")");
    if (fmt[i] != '%') {
      out += fmt[i];
      continue;
    }
    size_t j = i + 1;
    std::string spec = "%";
    while (j < fmt.size() && std::string_view("-+ #0123456789.").find(fmt[j]) != std::string_view::npos)
      spec += fmt[j++];
    if (j >= fmt.size()) throw TypeError("incomplete format");
    check_format_fields(spec);
    const char conv = fmt[j];
    i = j;
    if (conv == '%') {
      out += '%';
      continue;
    }
    if (next >= vals.size()) throw TypeError("not enough arguments for format string");
    const Value& v = vals[next++];
    switch (conv) {
      case 's':
      case 'r': {
        const std::string s = conv == 's' ? py_str(v) : py_repr(v);
        if (spec == "%") out += s;
        else append_formatted(out, spec + "s", s.c_str());
        break;
      }
      case 'd':
      case 'i':
      case 'x':
      case 'X':
      case 'o':
      case 'c':
        if (!v.is_number()) throw TypeError(std::string("%") + conv + " format: a number is required, not " + type_name(v));
        if (conv == 'c') {
          pystr::append_utf8(out, static_cast<uint32_t>(v.as_int()));
          break;
        }
        append_formatted(out, spec + "ll" + (conv == 'i' ? 'd' : conv),
                         static_cast<long long>(v.kind() == Kind::Float ? std::trunc(v.as_float()) : v.as_int()));
        break;
      case 'f':
      case 'F':
      case 'e':
      case 'E':
      case 'g':
      case 'G':
        if (!v.is_number()) throw TypeError(std::string("must be real number, not ") + type_name(v));
        append_formatted(out, spec + conv, v.as_float());
        break;
      default: throw TypeError(std::string("unsupported format character '") + conv + "'");
    }
  }
  if (out.size() > max_len) throw TypeError("value too large (limit " + std::to_string(max_len) + ")");
  if (next < vals.size() && !args.is_dict()) throw TypeError("not all arguments converted during string formatting");
  return out;
}

}  // namespace qs::jinja
