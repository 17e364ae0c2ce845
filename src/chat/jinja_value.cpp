#include "chat/jinja_value.h"

#include "chat/jinja_error.h"
#include "chat/jinja_pystr.h"

namespace qs::jinja {

const Value* DictObj::find(std::string_view key) const {
  for (const auto& [k, v] : items)
    if (k == key) return &v;
  return nullptr;
}

void DictObj::set(const std::string& key, Value v) {
  for (auto& [k, old] : items)
    if (k == key) {
      old = std::move(v);
      return;
    }
  items.emplace_back(key, std::move(v));
}

Value Value::undefined(std::string why) {
  Value v;
  v.s_ = std::move(why);
  return v;
}

Value Value::markup(std::string s) {
  Value v(std::move(s));
  v.markup_ = true;
  return v;
}

Value Value::list(std::vector<Value> items, bool tuple) {
  Value v;
  v.kind_ = Kind::List;
  v.obj_ = std::make_shared<ListObj>(ListObj{std::move(items), tuple});
  return v;
}

Value Value::dict() { return dict(std::make_shared<DictObj>()); }

Value Value::dict(std::shared_ptr<DictObj> d) {
  Value v;
  v.kind_ = Kind::Dict;
  v.obj_ = std::move(d);
  return v;
}

Value Value::ns() {
  Value v;
  v.kind_ = Kind::Namespace;
  v.obj_ = std::make_shared<DictObj>();
  return v;
}

Value Value::callable(std::string name, NativeFn fn) {
  Value v;
  v.kind_ = Kind::Callable;
  v.obj_ = std::make_shared<CallableObj>(CallableObj{std::move(name), std::move(fn)});
  return v;
}

bool Value::same_object(const Value& o) const {
  if (kind_ != o.kind_) return false;
  switch (kind_) {
    case Kind::List:
    case Kind::Dict:
    case Kind::Namespace:
    case Kind::Callable: return obj_ == o.obj_;
    default: return values_equal(*this, o);
  }
}

bool truthy(const Value& v) {
  switch (v.kind()) {
    case Kind::Undefined:
    case Kind::None: return false;
    case Kind::Bool:
    case Kind::Int: return v.as_int() != 0;
    case Kind::Float: return v.as_float() != 0.0;
    case Kind::String: return !v.str().empty();
    case Kind::List: return !v.items().empty();
    case Kind::Dict: return !v.dict_obj().items.empty();
    default: return true;
  }
}

bool values_equal(const Value& a, const Value& b) {
  if (a.is_number() && b.is_number()) {
    if (a.kind() == Kind::Float || b.kind() == Kind::Float) return a.as_float() == b.as_float();
    return a.as_int() == b.as_int();
  }
  if (a.kind() != b.kind()) return false;
  switch (a.kind()) {
    case Kind::Undefined:
    case Kind::None: return true;
    case Kind::String: return a.str() == b.str();
    case Kind::List: {
      if (a.is_tuple() != b.is_tuple() || a.items().size() != b.items().size()) return false;
      for (size_t i = 0; i < a.items().size(); ++i)
        if (!values_equal(a.items()[i], b.items()[i])) return false;
      return true;
    }
    case Kind::Dict: {
      const auto& x = a.dict_obj().items;
      if (x.size() != b.dict_obj().items.size()) return false;
      for (const auto& [k, v] : x) {
        const Value* o = b.dict_obj().find(k);
        if (!o || !values_equal(v, *o)) return false;
      }
      return true;
    }
    default: return a.same_object(b);
  }
}

int compare_values(const Value& a, const Value& b) {
  if (a.is_undefined()) fail_undefined(a);
  if (b.is_undefined()) fail_undefined(b);
  if (a.is_number() && b.is_number()) {
    if (a.kind() == Kind::Float || b.kind() == Kind::Float) {
      const double x = a.as_float(), y = b.as_float();
      return x < y ? -1 : x > y ? 1 : 0;
    }
    return a.as_int() < b.as_int() ? -1 : a.as_int() > b.as_int() ? 1 : 0;
  }
  if (a.is_string() && b.is_string()) {  // UTF-8 byte order is code-point order
    const int c = a.str().compare(b.str());
    return c < 0 ? -1 : c > 0 ? 1 : 0;
  }
  if (a.is_list() && b.is_list() && a.is_tuple() == b.is_tuple()) {
    const auto &x = a.items(), &y = b.items();
    for (size_t i = 0; i < x.size() && i < y.size(); ++i) {
      if (values_equal(x[i], y[i])) continue;
      return compare_values(x[i], y[i]);
    }
    return x.size() < y.size() ? -1 : x.size() > y.size() ? 1 : 0;
  }
  throw TypeError(std::string("'<' not supported between instances of '") + type_name(a) + "' and '" +
                  type_name(b) + "'");
}

const char* type_name(const Value& v) {
  switch (v.kind()) {
    case Kind::Undefined: return "Undefined";
    case Kind::None: return "NoneType";
    case Kind::Bool: return "bool";
    case Kind::Int: return "int";
    case Kind::Float: return "float";
    case Kind::String: return "str";
    case Kind::List: return v.is_tuple() ? "tuple" : "list";
    case Kind::Dict: return "dict";
    case Kind::Namespace: return "Namespace";
    case Kind::Callable: return "function";
  }
  return "object";
}

std::string object_type_repr(const Value& v) {
  if (v.is_none()) return "None";
  return std::string(type_name(v)) + " object";
}

void fail_undefined(const Value& v) {
  throw TypeError(v.undefined_why().empty() ? "value is undefined" : v.undefined_why());
}

std::string html_escape(const std::string& s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&#34;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

namespace {

constexpr int kMaxReprDepth = 200;  // a namespace can contain itself; Python prints "...", we stop

void repr_into(std::string& out, const Value& v, int depth);

void seq_into(std::string& out, const Value& v, int depth) {
  const auto& xs = v.items();
  out += v.is_tuple() ? '(' : '[';
  for (size_t i = 0; i < xs.size(); ++i) {
    if (i) out += ", ";
    repr_into(out, xs[i], depth + 1);
  }
  if (v.is_tuple() && xs.size() == 1) out += ',';
  out += v.is_tuple() ? ')' : ']';
}

void dict_into(std::string& out, const DictObj& d, int depth) {
  out += '{';
  bool first = true;
  for (const auto& [k, x] : d.items) {
    if (!first) out += ", ";
    first = false;
    out += pystr::repr(k);
    out += ": ";
    repr_into(out, x, depth + 1);
  }
  out += '}';
}

void repr_into(std::string& out, const Value& v, int depth) {
  if (depth > kMaxReprDepth) throw TypeError("value nested too deeply to print");
  switch (v.kind()) {
    case Kind::String: out += pystr::repr(v.str()); return;
    case Kind::List: seq_into(out, v, depth); return;
    case Kind::Dict: dict_into(out, v.dict_obj(), depth); return;
    case Kind::Namespace:
      out += "<Namespace ";
      dict_into(out, v.ns_obj(), depth);
      out += '>';
      return;
    case Kind::Undefined: out += "Undefined"; return;
    default: out += py_str(v); return;
  }
}

}  // namespace

std::string py_str(const Value& v) {
  switch (v.kind()) {
    case Kind::Undefined: return "";
    case Kind::None: return "None";
    case Kind::Bool: return v.as_bool() ? "True" : "False";
    case Kind::Int: return std::to_string(v.as_int());
    case Kind::Float: return pystr::float_repr(v.as_float());
    case Kind::String: return v.str();
    case Kind::Callable: return "<function " + v.fn().name + ">";
    default: {
      std::string out;
      repr_into(out, v, 0);
      return out;
    }
  }
}

std::string py_repr(const Value& v) {
  std::string out;
  repr_into(out, v, 0);
  return out;
}

}  // namespace qs::jinja
