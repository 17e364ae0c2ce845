// Runtime values of the Jinja interpreter, modelled on the Python objects jinja2 manipulates.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace qs::jinja {

class Interp;
struct CallArgs;
class Value;

enum class Kind : uint8_t { Undefined, None, Bool, Int, Float, String, List, Dict, Namespace, Callable };

struct ListObj {
  std::vector<Value> items;
  bool tuple = false;  // only changes how it prints: (a, b) instead of [a, b]
};

// Insertion-ordered string-keyed map, like a Python dict built from JSON.
struct DictObj {
  std::vector<std::pair<std::string, Value>> items;
  const Value* find(std::string_view key) const;
  void set(const std::string& key, Value v);
};

using NativeFn = std::function<Value(Interp&, CallArgs&)>;
struct CallableObj {
  std::string name;
  NativeFn fn;
};

class Value {
 public:
  Value() = default;  // undefined, no hint
  Value(std::nullptr_t) : kind_(Kind::None) {}
  Value(bool b) : kind_(Kind::Bool) { i_ = b ? 1 : 0; }
  Value(int v) : kind_(Kind::Int) { i_ = v; }
  Value(int64_t v) : kind_(Kind::Int) { i_ = v; }
  Value(double v) : kind_(Kind::Float) { f_ = v; }
  Value(std::string s) : kind_(Kind::String), s_(std::move(s)) {}
  Value(const char* s) : kind_(Kind::String), s_(s) {}
  Value(std::string_view s) : kind_(Kind::String), s_(s) {}

  // An undefined value; `why` is the message of the error raised when it is used strictly.
  static Value undefined(std::string why);
  static Value list(std::vector<Value> items = {}, bool tuple = false);
  static Value dict();
  static Value dict(std::shared_ptr<DictObj> d);
  static Value ns();
  static Value callable(std::string name, NativeFn fn);
  // A string marked safe (jinja2 Markup, from |safe or |escape): `markup + str` HTML-escapes the str.
  static Value markup(std::string s);

  Kind kind() const { return kind_; }
  bool is_undefined() const { return kind_ == Kind::Undefined; }
  bool is_none() const { return kind_ == Kind::None; }
  bool is_string() const { return kind_ == Kind::String; }
  bool is_int() const { return kind_ == Kind::Int || kind_ == Kind::Bool; }  // Python: bool is an int
  bool is_number() const { return is_int() || kind_ == Kind::Float; }
  bool is_list() const { return kind_ == Kind::List; }
  bool is_dict() const { return kind_ == Kind::Dict; }
  bool is_markup() const { return kind_ == Kind::String && markup_; }

  bool as_bool() const { return i_ != 0; }
  int64_t as_int() const { return i_; }
  double as_float() const { return kind_ == Kind::Float ? f_ : static_cast<double>(i_); }
  const std::string& str() const { return s_; }           // String
  const std::string& undefined_why() const { return s_; }  // Undefined
  const std::vector<Value>& items() const { return static_cast<const ListObj*>(obj_.get())->items; }
  bool is_tuple() const { return static_cast<const ListObj*>(obj_.get())->tuple; }
  const DictObj& dict_obj() const { return *static_cast<const DictObj*>(obj_.get()); }
  DictObj& ns_obj() const { return *static_cast<DictObj*>(obj_.get()); }  // namespaces are the one mutable object
  const CallableObj& fn() const { return *static_cast<const CallableObj*>(obj_.get()); }
  bool same_object(const Value& o) const;
  // The object behind a List/Dict/Namespace/Callable, not owning (the interpreter's cycle breaker uses it).
  std::weak_ptr<void> weak_object() const { return obj_; }

 private:
  Kind kind_ = Kind::Undefined;
  bool markup_ = false;
  union {
    int64_t i_ = 0;
    double f_;
  };
  std::string s_;                // String, or the Undefined's error message
  std::shared_ptr<void> obj_;    // ListObj, DictObj (Dict and Namespace) or CallableObj, chosen by kind_
};

// Python semantics used everywhere.
bool truthy(const Value& v);
bool values_equal(const Value& a, const Value& b);
int compare_values(const Value& a, const Value& b);  // <0, 0, >0; throws TypeError when Python would
std::string py_str(const Value& v);                   // str(v); undefined -> ""
std::string py_repr(const Value& v);                  // repr(v)
const char* type_name(const Value& v);                // "dict", "str", "NoneType", ...
std::string object_type_repr(const Value& v);         // "dict object", "None" (jinja2's wording)
[[noreturn]] void fail_undefined(const Value& v);     // throws the error an undefined value carries
std::string html_escape(const std::string& s);        // markupsafe.escape

}  // namespace qs::jinja
