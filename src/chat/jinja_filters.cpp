// The jinja2 built-in filters chat templates use, plus HF's tojson (json.dumps, ensure_ascii off).
#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <functional>
#include <optional>
#include <unordered_map>

#include "chat/jinja_error.h"
#include "chat/jinja_interp.h"
#include "chat/jinja_json.h"
#include "chat/jinja_ops.h"
#include "chat/jinja_pystr.h"

namespace qs::jinja {

namespace {

using FilterFn = std::function<Value(Interp&, const Value&, CallArgs&)>;

int64_t py_len(const Value& v) {
  switch (v.kind()) {
    case Kind::String: return static_cast<int64_t>(pystr::length(v.str()));
    case Kind::List: return static_cast<int64_t>(v.items().size());
    case Kind::Dict: return static_cast<int64_t>(v.dict_obj().items.size());
    case Kind::Undefined: return 0;
    default: throw TypeError(std::string("object of type '") + type_name(v) + "' has no len()");
  }
}

// jinja2's make_attrgetter: "a.b.0" walks items/attributes; integer parts index.
Value attr_path(const Value& obj, const Value& attribute, const Value& def = Value::undefined("")) {
  if (attribute.is_int()) return get_item(obj, attribute);
  if (!attribute.is_string()) throw TypeError("attribute must be a string or an integer");
  Value cur = obj;
  const auto parts = pystr::split(attribute.str(), std::string("."), -1);
  for (const auto& p : parts) {
    const bool digits = !p.empty() && std::all_of(p.begin(), p.end(), [](char c) { return std::isdigit(static_cast<unsigned char>(c)); });
    cur = digits ? get_item(cur, Value(static_cast<int64_t>(std::stoll(p)))) : get_item(cur, Value(p));
  }
  if (cur.is_undefined() && !def.is_undefined()) return def;
  return cur;
}

// Sort / unique / min / max key: strings compare case-insensitively unless case_sensitive.
Value sort_key(const Value& v, bool case_sensitive) {
  if (!case_sensitive && v.is_string()) return Value(pystr::lower(v.str()));
  return v;
}

// Filters built on str methods keep a Markup input Markup (soft_str in jinja2).
Value same_kind(const Value& in, std::string s) { return in.is_markup() ? Value::markup(std::move(s)) : Value(std::move(s)); }

// jinja2's select/reject/map skip falsy inputs entirely ("if value: for item in value"), so none|map(...) is empty.
std::vector<Value> iterate_if_truthy(const Value& v) { return truthy(v) ? iterate(v) : std::vector<Value>{}; }

Value require_iterable(const Value& v) { return Value::list(iterate(v)); }

bool arg_bool(const CallArgs& a, size_t i, const char* name, bool def) {
  const Value* v = a.get(i, name);
  return v ? truthy(*v) : def;
}

Value f_tojson(Interp&, const Value& v, CallArgs& a) {
  DumpOptions o;
  o.ensure_ascii = arg_bool(a, 0, "ensure_ascii", false);
  const Value indent = a.get_or(1, "indent", Value(nullptr));
  if (indent.is_int() && indent.as_int() > kMaxFormatField)
    throw TypeError("tojson indent " + std::to_string(indent.as_int()) + " exceeds the template limit (" +
                    std::to_string(kMaxFormatField) + ")");
  if (indent.is_int()) o.indent = std::string(static_cast<size_t>(std::max<int64_t>(0, indent.as_int())), ' ');
  else if (indent.is_string() && static_cast<int64_t>(indent.str().size()) <= kMaxFormatField) o.indent = indent.str();
  else if (indent.is_string()) throw TypeError("tojson indent string exceeds the template limit");
  else if (!indent.is_none()) throw TypeError("tojson: indent must be an integer or a string");
  if (o.indent) o.item_sep = ",";
  const Value seps = a.get_or(2, "separators", Value(nullptr));
  if (!seps.is_none()) {
    if (!seps.is_list() || seps.items().size() != 2 || !seps.items()[0].is_string() || !seps.items()[1].is_string())
      throw TypeError("tojson: separators must be a pair of strings");
    o.item_sep = seps.items()[0].str();
    o.key_sep = seps.items()[1].str();
  }
  o.sort_keys = arg_bool(a, 3, "sort_keys", false);
  return Value(dumps(v, o));
}

Value f_default(Interp&, const Value& v, CallArgs& a) {
  const Value def = a.get_or(0, "default_value", Value(std::string()));
  if (v.is_undefined() || (arg_bool(a, 1, "boolean", false) && !truthy(v))) return def;
  return v;
}

Value f_join(Interp& in, const Value& v, CallArgs& a) {
  const Value sep = a.get_or(0, "d", Value(std::string()));
  const Value* attribute = a.get(1, "attribute");
  std::string out;
  bool first = true;
  for (const auto& x : iterate(v)) {
    if (!first) out += py_str(sep);
    first = false;
    out += py_str(attribute && !attribute->is_none() ? attr_path(x, *attribute) : x);
    in.check_length(out.size());
  }
  return Value(std::move(out));
}

Value f_first(Interp&, const Value& v, CallArgs&) {
  const auto xs = iterate(v);
  return xs.empty() ? Value::undefined("No first item, sequence was empty.") : xs.front();
}

Value f_last(Interp&, const Value& v, CallArgs&) {
  const auto xs = iterate(v);
  return xs.empty() ? Value::undefined("No last item, sequence was empty.") : xs.back();
}

std::optional<int64_t> parse_py_int(std::string s, int base) {
  s = pystr::strip(s, std::nullopt, true, true);
  s.erase(std::remove(s.begin(), s.end(), '_'), s.end());
  if (s.empty()) return std::nullopt;
  errno = 0;
  char* end = nullptr;
  const long long v = std::strtoll(s.c_str(), &end, base);
  if (errno || *end) return std::nullopt;
  return v;
}

std::optional<double> parse_py_float(const std::string& raw) {
  const std::string s = pystr::strip(raw, std::nullopt, true, true);
  if (s.empty()) return std::nullopt;
  char* end = nullptr;
  const double v = std::strtod(s.c_str(), &end);
  if (*end) return std::nullopt;
  return v;
}

Value f_int(Interp&, const Value& v, CallArgs& a) {
  const Value def = a.get_or(0, "default", Value(0));
  const int base = static_cast<int>(a.get_or(1, "base", Value(10)).as_int());
  if (v.is_undefined()) fail_undefined(v);  // int(Undefined) raises in jinja2, it does not default
  if (v.is_int()) return Value(v.as_int());
  if (v.kind() == Kind::Float) {
    if (!std::isfinite(v.as_float())) return def;
    return Value(static_cast<int64_t>(std::trunc(v.as_float())));
  }
  if (v.is_string()) {
    if (auto i = parse_py_int(v.str(), base)) return Value(*i);
    if (auto f = parse_py_float(v.str()); f && std::isfinite(*f)) return Value(static_cast<int64_t>(std::trunc(*f)));
  }
  return def;
}

Value f_float(Interp&, const Value& v, CallArgs& a) {
  const Value def = a.get_or(0, "default", Value(0.0));
  if (v.is_undefined()) fail_undefined(v);
  if (v.is_number()) return Value(v.as_float());
  if (v.is_string())
    if (auto f = parse_py_float(v.str())) return Value(*f);
  return def;
}

Value f_items(Interp&, const Value& v, CallArgs&) {
  if (v.is_undefined()) return Value::list();
  if (!v.is_dict()) throw TypeError("Can only get item pairs from a mapping.");
  std::vector<Value> out;
  for (const auto& [k, x] : v.dict_obj().items) out.push_back(Value::list({Value(k), x}, true));
  return Value::list(std::move(out));
}

Value f_dictsort(Interp&, const Value& v, CallArgs& a) {
  if (!v.is_dict()) throw TypeError("dictsort: can only sort a mapping");
  const bool cs = arg_bool(a, 0, "case_sensitive", false);
  const std::string by = py_str(a.get_or(1, "by", Value("key")));
  const bool rev = arg_bool(a, 2, "reverse", false);
  const size_t pos = by == "key" ? 0 : by == "value" ? 1 : 2;
  if (pos == 2) throw TypeError("You can only sort by either \"key\" or \"value\"");
  std::vector<Value> out;
  for (const auto& [k, x] : v.dict_obj().items) out.push_back(Value::list({Value(k), x}, true));
  std::stable_sort(out.begin(), out.end(), [&](const Value& l, const Value& r) {
    const int c = compare_values(sort_key(l.items()[pos], cs), sort_key(r.items()[pos], cs));
    return rev ? c > 0 : c < 0;
  });
  return Value::list(std::move(out));
}

Value select_common(Interp& in, const Value& v, CallArgs& a, bool by_attr, bool keep) {
  const size_t first_test = by_attr ? 1 : 0;
  const Value* attribute = by_attr ? a.get(0, "attribute") : nullptr;
  if (by_attr && !attribute) throw TypeError("selectattr/rejectattr need an attribute name");
  const Value* test_name = a.args.size() > first_test ? &a.args[first_test] : nullptr;
  CallArgs targs;
  for (size_t i = first_test + 1; i < a.args.size(); ++i) targs.args.push_back(a.args[i]);
  std::vector<Value> out;
  for (const auto& x : iterate_if_truthy(v)) {
    const Value item = attribute ? attr_path(x, *attribute) : x;
    bool ok;
    if (test_name) {
      CallArgs copy = targs;
      ok = in.test(py_str(*test_name), item, copy);
    } else {
      ok = truthy(item);
    }
    if (ok == keep) out.push_back(x);
  }
  return Value::list(std::move(out));
}

Value f_map(Interp& in, const Value& v, CallArgs& a) {
  std::vector<Value> out;
  const Value* attribute = nullptr;
  for (const auto& [k, x] : a.kwargs)
    if (k == "attribute") attribute = &x;
  if (attribute) {
    Value def = Value::undefined("");
    for (const auto& [k, x] : a.kwargs)
      if (k == "default") def = x;
    for (const auto& x : iterate_if_truthy(v)) out.push_back(attr_path(x, *attribute, def));
    return Value::list(std::move(out));
  }
  if (a.args.empty()) throw TypeError("map requires a filter name or attribute=");
  const std::string name = py_str(a.args[0]);
  CallArgs fargs;
  fargs.args.assign(a.args.begin() + 1, a.args.end());
  fargs.kwargs = a.kwargs;
  for (const auto& x : iterate_if_truthy(v)) {
    CallArgs copy = fargs;
    out.push_back(in.filter(name, x, copy));
  }
  return Value::list(std::move(out));
}

Value f_sort(Interp&, const Value& v, CallArgs& a) {
  std::vector<Value> xs = iterate(v);
  const bool rev = arg_bool(a, 0, "reverse", false);
  const bool cs = arg_bool(a, 1, "case_sensitive", false);
  const Value* attribute = a.get(2, "attribute");
  auto key = [&](const Value& x) { return sort_key(attribute && !attribute->is_none() ? attr_path(x, *attribute) : x, cs); };
  std::stable_sort(xs.begin(), xs.end(), [&](const Value& l, const Value& r) {
    const int c = compare_values(key(l), key(r));
    return rev ? c > 0 : c < 0;
  });
  return Value::list(std::move(xs));
}

Value f_unique(Interp&, const Value& v, CallArgs& a) {
  const bool cs = arg_bool(a, 0, "case_sensitive", false);
  const Value* attribute = a.get(1, "attribute");
  std::vector<Value> out, seen;
  for (const auto& x : iterate(v)) {
    const Value k = sort_key(attribute && !attribute->is_none() ? attr_path(x, *attribute) : x, cs);
    if (std::any_of(seen.begin(), seen.end(), [&](const Value& s) { return values_equal(s, k); })) continue;
    seen.push_back(k);
    out.push_back(x);
  }
  return Value::list(std::move(out));
}

Value min_max(const Value& v, CallArgs& a, bool want_max) {
  const bool cs = arg_bool(a, 0, "case_sensitive", false);
  const Value* attribute = a.get(1, "attribute");
  const auto xs = iterate(v);
  if (xs.empty()) return Value::undefined("No aggregated item, sequence was empty.");
  auto key = [&](const Value& x) { return sort_key(attribute && !attribute->is_none() ? attr_path(x, *attribute) : x, cs); };
  size_t best = 0;
  for (size_t i = 1; i < xs.size(); ++i) {
    const int c = compare_values(key(xs[i]), key(xs[best]));
    if (want_max ? c > 0 : c < 0) best = i;
  }
  return xs[best];
}

Value f_sum(Interp&, const Value& v, CallArgs& a) {
  const Value* attribute = a.get(0, "attribute");
  Value acc = a.get_or(1, "start", Value(0));
  for (const auto& x : iterate(v))
    acc = binary_op("+", acc, attribute && !attribute->is_none() ? attr_path(x, *attribute) : x, size_t{1} << 30);
  return acc;
}

Value f_round(Interp&, const Value& v, CallArgs& a) {
  const int64_t precision = a.get_or(0, "precision", Value(0)).as_int();
  const std::string method = py_str(a.get_or(1, "method", Value("common")));
  if (!v.is_number()) throw TypeError(std::string("type ") + type_name(v) + " doesn't define __round__ method");
  if (method == "common") {
    if (v.is_int()) return Value(v.as_int());
    const double x = v.as_float();
    if (!std::isfinite(x)) return v;
    if (precision == 0) return Value(std::nearbyint(x));  // round-half-even, like Python
    if (precision > 0) {
      char buf[400];
      std::snprintf(buf, sizeof buf, "%.*f", static_cast<int>(std::min<int64_t>(precision, 300)), x);
      return Value(std::strtod(buf, nullptr));
    }
    const double p = std::pow(10.0, static_cast<double>(-precision));
    return Value(std::nearbyint(x / p) * p);
  }
  if (method != "floor" && method != "ceil") throw TypeError("method must be common, ceil or floor");
  const double p = std::pow(10.0, static_cast<double>(precision));
  const double y = v.as_float() * p;
  return Value((method == "floor" ? std::floor(y) : std::ceil(y)) / p);
}

Value f_indent(Interp& in, const Value& v, CallArgs& a) {
  const Value width = a.get_or(0, "width", Value(4));
  const bool first = arg_bool(a, 1, "first", false);
  const bool blank = arg_bool(a, 2, "blank", false);
  if (!width.is_string() && width.as_int() > kMaxFormatField)
    throw TypeError("indent width " + std::to_string(width.as_int()) + " exceeds the template limit (" +
                    std::to_string(kMaxFormatField) + ")");
  const std::string ind = width.is_string() ? width.str() : std::string(static_cast<size_t>(std::max<int64_t>(0, width.as_int())), ' ');
  const std::string text = py_str(v);
  const auto lines = pystr::splitlines(text + "\n", false);
  in.check_length(text.size() + ind.size() * (lines.size() + 1));  // before building it
  std::string rv;
  if (blank) {
    for (size_t i = 0; i < lines.size(); ++i) rv += (i ? "\n" + ind : "") + lines[i];
  } else {
    rv = lines.empty() ? "" : lines[0];
    for (size_t i = 1; i < lines.size(); ++i) rv += "\n" + (lines[i].empty() ? "" : ind + lines[i]);
  }
  return same_kind(v, first ? ind + rv : rv);
}

Value f_title(Interp&, const Value& v, CallArgs&) {
  // jinja2: words start after runs of "-", whitespace, or opening brackets.
  const auto cps = pystr::code_points(py_str(v));
  std::string out;
  bool start = true;
  for (uint32_t c : cps) {
    const bool sep = c == '-' || c == '(' || c == '{' || c == '[' || c == '<' || pystr::is_space(c);
    pystr::append_utf8(out, sep ? c : start ? pystr::to_upper(c) : pystr::to_lower(c));
    start = sep;
  }
  return Value(std::move(out));
}

Value f_escape(Interp&, const Value& v, CallArgs&) {
  return v.is_markup() ? v : Value::markup(html_escape(py_str(v)));
}

Value f_reverse(Interp&, const Value& v, CallArgs&) {
  if (v.is_string()) {
    auto cps = pystr::code_points(v.str());
    std::reverse(cps.begin(), cps.end());
    return Value(pystr::from_code_points(cps, 0, cps.size()));
  }
  auto xs = iterate(v);
  std::reverse(xs.begin(), xs.end());
  return Value::list(std::move(xs));
}

Value f_wordcount(Interp&, const Value& v, CallArgs&) {
  int64_t n = 0;
  bool in_word = false;
  for (uint32_t c : pystr::code_points(py_str(v))) {
    const bool w = c == '_' || c >= 0x80 || (c < 0x80 && std::isalnum(static_cast<int>(c)));
    if (w && !in_word) ++n;
    in_word = w;
  }
  return Value(n);
}

const std::unordered_map<std::string, FilterFn>& registry() {
  static const std::unordered_map<std::string, FilterFn> r = {
      {"tojson", f_tojson},
      {"default", f_default},
      {"d", f_default},
      {"join", f_join},
      {"first", f_first},
      {"last", f_last},
      {"int", f_int},
      {"float", f_float},
      {"items", f_items},
      {"dictsort", f_dictsort},
      {"map", f_map},
      {"sort", f_sort},
      {"unique", f_unique},
      {"sum", f_sum},
      {"round", f_round},
      {"indent", f_indent},
      {"title", f_title},
      {"escape", f_escape},
      {"e", f_escape},
      {"reverse", f_reverse},
      {"wordcount", f_wordcount},
      {"length", [](Interp&, const Value& v, CallArgs&) { return Value(py_len(v)); }},
      {"count", [](Interp&, const Value& v, CallArgs&) { return Value(py_len(v)); }},
      {"list", [](Interp&, const Value& v, CallArgs&) { return require_iterable(v); }},
      {"string", [](Interp&, const Value& v, CallArgs&) { return v.is_string() ? v : Value(py_str(v)); }},
      {"safe", [](Interp&, const Value& v, CallArgs&) { return v.is_markup() ? v : Value::markup(py_str(v)); }},
      {"lower", [](Interp&, const Value& v, CallArgs&) { return same_kind(v, pystr::lower(py_str(v))); }},
      {"upper", [](Interp&, const Value& v, CallArgs&) { return same_kind(v, pystr::upper(py_str(v))); }},
      {"capitalize", [](Interp&, const Value& v, CallArgs&) { return same_kind(v, pystr::capitalize(py_str(v))); }},
      {"max", [](Interp&, const Value& v, CallArgs& a) { return min_max(v, a, true); }},
      {"min", [](Interp&, const Value& v, CallArgs& a) { return min_max(v, a, false); }},
      {"select", [](Interp& in, const Value& v, CallArgs& a) { return select_common(in, v, a, false, true); }},
      {"reject", [](Interp& in, const Value& v, CallArgs& a) { return select_common(in, v, a, false, false); }},
      {"selectattr", [](Interp& in, const Value& v, CallArgs& a) { return select_common(in, v, a, true, true); }},
      {"rejectattr", [](Interp& in, const Value& v, CallArgs& a) { return select_common(in, v, a, true, false); }},
      {"attr",
       [](Interp&, const Value& v, CallArgs& a) { return get_attr(v, py_str(a.get_or(0, "name", Value("")))); }},
      {"trim",
       [](Interp&, const Value& v, CallArgs& a) {
         const Value* chars = a.get(0, "chars");
         std::optional<std::string> cs;
         if (chars && !chars->is_none()) cs = py_str(*chars);
         return same_kind(v, pystr::strip(py_str(v), cs, true, true));
       }},
      {"replace",
       [](Interp& in, const Value& v, CallArgs& a) {
         const Value* count = a.get(2, "count");
         std::string r = pystr::replace(py_str(v), py_str(a.get_or(0, "old", Value(""))),
                                        py_str(a.get_or(1, "new", Value(""))),
                                        count && !count->is_none() ? count->as_int() : -1, in.limits().max_output);
         return Value(std::move(r));
       }},
      {"abs",
       [](Interp&, const Value& v, CallArgs&) {
         if (v.kind() == Kind::Float) return Value(std::fabs(v.as_float()));
         if (v.is_int()) return Value(v.as_int() < 0 ? -v.as_int() : v.as_int());
         throw TypeError(std::string("bad operand type for abs(): '") + type_name(v) + "'");
       }},
      {"format",
       [](Interp& in, const Value& v, CallArgs& a) {
         if (!a.kwargs.empty()) throw TypeError("unsupported: format filter with keyword arguments");
         return Value(percent_format(py_str(v), Value::list(a.args, true), in.limits().max_output));
       }},
  };
  return r;
}

}  // namespace

Value Interp::filter(const std::string& name, const Value& v, CallArgs& args) {
  const auto& r = registry();
  const auto it = r.find(name);
  if (it == r.end()) throw TypeError("unknown or unsupported filter '" + name + "'");
  return it->second(*this, v, args);
}

bool filter_exists(const std::string& name) { return registry().count(name) != 0; }

}  // namespace qs::jinja
