#include "chat/jinja_methods.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <optional>
#include <string_view>

#include "chat/jinja_error.h"
#include "chat/jinja_interp.h"
#include "chat/jinja_ops.h"
#include "chat/jinja_pystr.h"

namespace qs::jinja {

namespace {

constexpr std::array<std::string_view, 26> kStrMethods = {
    "split", "rsplit", "splitlines", "strip", "lstrip", "rstrip", "startswith", "endswith", "lower",
    "upper", "title", "capitalize", "replace", "find", "rfind", "count", "join", "isdigit", "isalpha",
    "isalnum", "isspace", "islower", "isupper", "casefold", "index", "rindex"};
constexpr std::array<std::string_view, 5> kDictMethods = {"keys", "values", "items", "get", "copy"};
constexpr std::array<std::string_view, 5> kDictUnsafe = {"pop", "popitem", "setdefault", "update", "clear"};
constexpr std::array<std::string_view, 3> kListMethods = {"index", "count", "copy"};
constexpr std::array<std::string_view, 8> kListUnsafe = {"append", "extend", "insert", "pop",
                                                         "remove", "reverse", "sort", "clear"};

template <size_t N>
bool in(const std::array<std::string_view, N>& a, const std::string& n) {
  return std::find(a.begin(), a.end(), n) != a.end();
}

std::optional<std::string> opt_str(const Value* v, const char* what) {
  if (!v || v->is_none()) return std::nullopt;
  if (!v->is_string()) throw TypeError(std::string(what) + " arg must be None or str");
  return v->str();
}

int64_t opt_int(const Value* v, int64_t def) {
  if (!v || v->is_none()) return def;
  if (!v->is_int()) throw TypeError("an integer is required");
  return v->as_int();
}

const std::string& need_str(const Value* v, const char* method) {
  if (!v) throw TypeError(std::string(method) + "() missing required argument");
  if (!v->is_string()) throw TypeError(std::string(method) + "() argument must be str, not " + type_name(*v));
  return v->str();
}

Value str_list(std::vector<std::string> parts) {
  std::vector<Value> out;
  out.reserve(parts.size());
  for (auto& p : parts) out.emplace_back(std::move(p));
  return Value::list(std::move(out));
}

template <typename Pred>
bool all_chars(const std::string& s, Pred p) {
  if (s.empty()) return false;
  for (size_t i = 0; i < s.size();)
    if (!p(pystr::decode(s, i))) return false;
  return true;
}

bool affix(const std::string& s, const Value* arg, bool prefix) {
  auto one = [&](const Value& a) {
    if (!a.is_string()) throw TypeError("startswith/endswith first arg must be str or a tuple of str");
    const std::string& x = a.str();
    if (x.size() > s.size()) return false;
    return prefix ? s.compare(0, x.size(), x) == 0 : s.compare(s.size() - x.size(), x.size(), x) == 0;
  };
  if (!arg) throw TypeError("startswith/endswith() takes at least 1 argument");
  if (arg->is_list()) {
    for (const auto& a : arg->items())
      if (one(a)) return true;
    return false;
  }
  return one(*arg);
}

Value call_str(Interp& in, const std::string& s, const std::string& m, CallArgs& a) {
  if (m == "split" || m == "rsplit") {
    auto sep = opt_str(a.get(0, "sep"), "sep");
    if (sep && sep->empty()) throw TypeError("empty separator");
    const int64_t maxsplit = opt_int(a.get(1, "maxsplit"), -1);
    return str_list(m == "split" ? pystr::split(s, sep, maxsplit) : pystr::rsplit(s, sep, maxsplit));
  }
  if (m == "splitlines") return str_list(pystr::splitlines(s, truthy(a.get_or(0, "keepends", Value(false)))));
  if (m == "strip" || m == "lstrip" || m == "rstrip")
    return Value(pystr::strip(s, opt_str(a.get(0, "chars"), m.c_str()), m != "rstrip", m != "lstrip"));
  if (m == "startswith" || m == "endswith") return Value(affix(s, a.get(0, "prefix"), m == "startswith"));
  if (m == "lower" || m == "casefold") return Value(pystr::lower(s));
  if (m == "upper") return Value(pystr::upper(s));
  if (m == "title") return Value(pystr::title(s));
  if (m == "capitalize") return Value(pystr::capitalize(s));
  if (m == "replace")
    return Value(pystr::replace(s, need_str(a.get(0, "old"), "replace"), need_str(a.get(1, "new"), "replace"),
                                opt_int(a.get(2, "count"), -1), in.limits().max_output));
  if (m == "find" || m == "rfind" || m == "index" || m == "rindex") {
    const int64_t i = pystr::find(s, need_str(a.get(0, "sub"), m.c_str()), m[0] == 'r');
    if (i < 0 && (m == "index" || m == "rindex")) throw TypeError("substring not found");
    return Value(i);
  }
  if (m == "count") return Value(pystr::count(s, need_str(a.get(0, "sub"), "count")));
  if (m == "join") {
    const Value* it = a.get(0, "iterable");
    if (!it) throw TypeError("join() takes exactly one argument");
    std::string out;
    size_t k = 0;
    for (const auto& x : iterate(*it)) {
      if (!x.is_string())
        throw TypeError("sequence item " + std::to_string(k) + ": expected str instance, " + type_name(x) + " found");
      if (k++) out += s;
      out += x.str();
      in.check_length(out.size());
    }
    return Value(std::move(out));
  }
  if (m == "isdigit") return Value(all_chars(s, [](uint32_t c) { return c >= '0' && c <= '9'; }));
  if (m == "isalpha") return Value(all_chars(s, [](uint32_t c) { return (c < 0x80 && std::isalpha(static_cast<int>(c))) || c >= 0x80; }));
  if (m == "isalnum") return Value(all_chars(s, [](uint32_t c) { return (c < 0x80 && std::isalnum(static_cast<int>(c))) || c >= 0x80; }));
  if (m == "isspace") return Value(all_chars(s, pystr::is_space));
  if (m == "islower" || m == "isupper") {
    bool cased = false;
    for (size_t i = 0; i < s.size();) {
      const uint32_t c = pystr::decode(s, i);
      const bool lo = pystr::to_upper(c) != c, up = pystr::to_lower(c) != c;
      if ((m == "islower" && up) || (m == "isupper" && lo)) return Value(false);
      cased = cased || lo || up;
    }
    return Value(cased);
  }
  throw TypeError("str has no method " + m);
}

Value call_dict(const Value& d, const std::string& m, CallArgs& a) {
  const auto& items = d.dict_obj().items;
  if (m == "keys" || m == "values" || m == "items") {
    std::vector<Value> out;
    out.reserve(items.size());
    for (const auto& [k, v] : items) {
      if (m == "keys") out.emplace_back(k);
      else if (m == "values") out.push_back(v);
      else out.push_back(Value::list({Value(k), v}, true));
    }
    return Value::list(std::move(out));
  }
  if (m == "get") {
    const Value* key = a.get(0, "key");
    if (!key) throw TypeError("get expected at least 1 argument, got 0");
    const Value def = a.get_or(1, "default", Value(nullptr));
    if (!key->is_string()) return def;
    const Value* v = d.dict_obj().find(key->str());
    return v ? *v : def;
  }
  if (m == "copy") return Value::dict(std::make_shared<DictObj>(d.dict_obj()));
  throw TypeError("dict has no method " + m);
}

Value call_list(const Value& l, const std::string& m, CallArgs& a) {
  if (m == "copy") return Value::list(l.items(), l.is_tuple());
  const Value* x = a.get(0, "value");
  if (!x) throw TypeError(m + "() takes exactly one argument");
  int64_t n = 0;
  for (size_t i = 0; i < l.items().size(); ++i) {
    if (!values_equal(l.items()[i], *x)) continue;
    if (m == "index") return Value(static_cast<int64_t>(i));
    ++n;
  }
  if (m == "index") throw TypeError(py_repr(*x) + " is not in list");
  return Value(n);
}

}  // namespace

MethodKind find_method(const Value& obj, const std::string& name) {
  switch (obj.kind()) {
    case Kind::String: return in(kStrMethods, name) ? MethodKind::Safe : MethodKind::None;
    case Kind::Dict:
      return in(kDictMethods, name) ? MethodKind::Safe : in(kDictUnsafe, name) ? MethodKind::Unsafe : MethodKind::None;
    case Kind::List:
      if (obj.is_tuple()) return name == "index" || name == "count" ? MethodKind::Safe : MethodKind::None;
      return in(kListMethods, name) ? MethodKind::Safe : in(kListUnsafe, name) ? MethodKind::Unsafe : MethodKind::None;
    default: return MethodKind::None;
  }
}

Value bind_method(const Value& obj, const std::string& name) {
  return Value::callable(std::string(type_name(obj)) + "." + name,
                         [obj, name](Interp& in, CallArgs& args) { return call_method(in, obj, name, args); });
}

Value call_method(Interp& in, const Value& obj, const std::string& name, CallArgs& args) {
  switch (obj.kind()) {
    case Kind::String: return call_str(in, obj.str(), name, args);
    case Kind::Dict: return call_dict(obj, name, args);
    case Kind::List: return call_list(obj, name, args);
    default: throw TypeError(std::string("'") + type_name(obj) + "' object has no attribute '" + name + "'");
  }
}

}  // namespace qs::jinja
