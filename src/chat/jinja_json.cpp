#include "chat/jinja_json.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>

#include "chat/jinja_error.h"
#include "chat/jinja_pystr.h"

namespace qs::jinja {

Value from_json(const nlohmann::ordered_json& j) {
  using T = nlohmann::ordered_json::value_t;
  switch (j.type()) {
    case T::null: return Value(nullptr);
    case T::boolean: return Value(j.get<bool>());
    case T::number_integer: return Value(j.get<int64_t>());
    case T::number_unsigned: {
      const auto u = j.get<uint64_t>();
      if (u <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) return Value(static_cast<int64_t>(u));
      return Value(static_cast<double>(u));
    }
    case T::number_float: return Value(j.get<double>());
    case T::string: return Value(j.get<std::string>());
    case T::array: {
      std::vector<Value> items;
      items.reserve(j.size());
      for (const auto& x : j) items.push_back(from_json(x));
      return Value::list(std::move(items));
    }
    case T::object: {
      auto d = std::make_shared<DictObj>();
      d->items.reserve(j.size());
      for (auto it = j.begin(); it != j.end(); ++it) d->items.emplace_back(it.key(), from_json(it.value()));
      return Value::dict(std::move(d));
    }
    default: return Value::undefined("unsupported JSON value");
  }
}

namespace {

void string_into(std::string& out, const std::string& s, bool ascii) {
  out += '"';
  char buf[16];
  for (size_t i = 0; i < s.size();) {
    const uint32_t c = pystr::decode(s, i);
    switch (c) {
      case '"': out += "\\\""; continue;
      case '\\': out += "\\\\"; continue;
      case '\n': out += "\\n"; continue;
      case '\r': out += "\\r"; continue;
      case '\t': out += "\\t"; continue;
      case '\b': out += "\\b"; continue;
      case '\f': out += "\\f"; continue;
      default: break;
    }
    if (c < 0x20 || (ascii && c >= 0x7F)) {
      if (c >= 0x10000) {
        const uint32_t v = c - 0x10000;
        std::snprintf(buf, sizeof buf, "\\u%04x\\u%04x", 0xD800 + (v >> 10), 0xDC00 + (v & 0x3FF));
      } else {
        std::snprintf(buf, sizeof buf, "\\u%04x", c);
      }
      out += buf;
    } else {
      pystr::append_utf8(out, c);
    }
  }
  out += '"';
}

struct Dumper {
  const DumpOptions& opt;
  std::string out;

  void newline(int level) {
    out += '\n';
    for (int i = 0; i < level; ++i) out += *opt.indent;
  }

  void value(const Value& v, int level) {
    if (level > 200) throw TypeError("value nested too deeply for tojson");
    switch (v.kind()) {
      case Kind::None: out += "null"; return;
      case Kind::Bool: out += v.as_bool() ? "true" : "false"; return;
      case Kind::Int: out += std::to_string(v.as_int()); return;
      case Kind::Float: {
        const double f = v.as_float();
        if (std::isnan(f)) out += "NaN";
        else if (std::isinf(f)) out += f < 0 ? "-Infinity" : "Infinity";
        else out += pystr::float_repr(f);
        return;
      }
      case Kind::String: string_into(out, v.str(), opt.ensure_ascii); return;
      case Kind::List: {
        const auto& xs = v.items();
        if (xs.empty()) {
          out += "[]";
          return;
        }
        out += '[';
        for (size_t i = 0; i < xs.size(); ++i) {
          if (i) out += opt.item_sep;
          if (opt.indent) newline(level + 1);
          value(xs[i], level + 1);
        }
        if (opt.indent) newline(level);
        out += ']';
        return;
      }
      case Kind::Dict: {
        std::vector<const std::pair<std::string, Value>*> kv;
        for (const auto& p : v.dict_obj().items) kv.push_back(&p);
        if (opt.sort_keys)
          std::stable_sort(kv.begin(), kv.end(), [](auto* a, auto* b) { return a->first < b->first; });
        if (kv.empty()) {
          out += "{}";
          return;
        }
        out += '{';
        for (size_t i = 0; i < kv.size(); ++i) {
          if (i) out += opt.item_sep;
          if (opt.indent) newline(level + 1);
          string_into(out, kv[i]->first, opt.ensure_ascii);
          out += opt.key_sep;
          value(kv[i]->second, level + 1);
        }
        if (opt.indent) newline(level);
        out += '}';
        return;
      }
      default:
        throw TypeError(std::string("Object of type ") + type_name(v) + " is not JSON serializable");
    }
  }
};

}  // namespace

std::string dumps(const Value& v, const DumpOptions& opt) {
  Dumper d{opt, {}};
  d.value(v, 0);
  return std::move(d.out);
}

}  // namespace qs::jinja
