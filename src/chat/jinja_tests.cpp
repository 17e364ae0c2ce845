// jinja2's built-in tests: `x is defined`, `x is none`, `x is equalto y`, ...
#include <functional>
#include <unordered_map>

#include "chat/jinja_error.h"
#include "chat/jinja_interp.h"
#include "chat/jinja_ops.h"
#include "chat/jinja_pystr.h"

namespace qs::jinja {

bool filter_exists(const std::string& name);

namespace {

using TestFn = std::function<bool(Interp&, const Value&, CallArgs&)>;

const Value& arg0(const CallArgs& a, const char* test) {
  const Value* v = a.get(0, "other");
  if (!v) throw TypeError(std::string("test '") + test + "' needs an argument");
  return *v;
}

// Python: value % n == 0, for ints and floats alike.
bool is_zero(const Value& v) { return values_equal(v, Value(0)); }

int cmp0(const Value& v, const CallArgs& a, const char* test) { return compare_values(v, arg0(a, test)); }

bool case_test(const Value& v, bool want_lower) {
  if (!v.is_string()) return false;
  const std::string conv = want_lower ? pystr::lower(v.str()) : pystr::upper(v.str());
  if (conv != v.str()) return false;
  // Python's islower/isupper also need at least one cased character.
  return (want_lower ? pystr::upper(v.str()) : pystr::lower(v.str())) != v.str();
}

const std::unordered_map<std::string, TestFn>& registry();

bool test_exists(const std::string& name) { return registry().count(name) != 0; }

const std::unordered_map<std::string, TestFn>& registry() {
  static const auto eq = [](Interp&, const Value& v, CallArgs& a) { return values_equal(v, arg0(a, "eq")); };
  static const auto ne = [](Interp&, const Value& v, CallArgs& a) { return !values_equal(v, arg0(a, "ne")); };
  static const auto lt = [](Interp&, const Value& v, CallArgs& a) { return cmp0(v, a, "lt") < 0; };
  static const auto le = [](Interp&, const Value& v, CallArgs& a) { return cmp0(v, a, "le") <= 0; };
  static const auto gt = [](Interp&, const Value& v, CallArgs& a) { return cmp0(v, a, "gt") > 0; };
  static const auto ge = [](Interp&, const Value& v, CallArgs& a) { return cmp0(v, a, "ge") >= 0; };
  static const std::unordered_map<std::string, TestFn> r = {
      {"defined", [](Interp&, const Value& v, CallArgs&) { return !v.is_undefined(); }},
      {"undefined", [](Interp&, const Value& v, CallArgs&) { return v.is_undefined(); }},
      {"none", [](Interp&, const Value& v, CallArgs&) { return v.is_none(); }},
      {"boolean", [](Interp&, const Value& v, CallArgs&) { return v.kind() == Kind::Bool; }},
      {"true", [](Interp&, const Value& v, CallArgs&) { return v.kind() == Kind::Bool && v.as_bool(); }},
      {"false", [](Interp&, const Value& v, CallArgs&) { return v.kind() == Kind::Bool && !v.as_bool(); }},
      {"integer", [](Interp&, const Value& v, CallArgs&) { return v.kind() == Kind::Int; }},
      {"float", [](Interp&, const Value& v, CallArgs&) { return v.kind() == Kind::Float; }},
      {"number", [](Interp&, const Value& v, CallArgs&) { return v.is_number(); }},
      {"string", [](Interp&, const Value& v, CallArgs&) { return v.is_string(); }},
      {"mapping", [](Interp&, const Value& v, CallArgs&) { return v.is_dict(); }},
      {"iterable",
       [](Interp&, const Value& v, CallArgs&) {
         return v.is_list() || v.is_dict() || v.is_string() || v.is_undefined();
       }},
      {"sequence",
       [](Interp&, const Value& v, CallArgs&) {
         return v.is_list() || v.is_dict() || v.is_string() || v.is_undefined();
       }},
      {"callable", [](Interp&, const Value& v, CallArgs&) { return v.kind() == Kind::Callable; }},
      {"sameas", [](Interp&, const Value& v, CallArgs& a) { return v.same_object(arg0(a, "sameas")); }},
      {"escaped", [](Interp&, const Value&, CallArgs&) { return false; }},
      {"in", [](Interp&, const Value& v, CallArgs& a) { return contains(arg0(a, "in"), v); }},
      {"odd", [](Interp&, const Value& v, CallArgs&) { return !is_zero(binary_op("%", v, Value(2), 0)); }},
      {"even", [](Interp&, const Value& v, CallArgs&) { return is_zero(binary_op("%", v, Value(2), 0)); }},
      {"divisibleby",
       [](Interp&, const Value& v, CallArgs& a) { return is_zero(binary_op("%", v, arg0(a, "divisibleby"), 0)); }},
      {"lower", [](Interp&, const Value& v, CallArgs&) { return case_test(v, true); }},
      {"upper", [](Interp&, const Value& v, CallArgs&) { return case_test(v, false); }},
      {"filter", [](Interp&, const Value& v, CallArgs&) { return v.is_string() && filter_exists(v.str()); }},
      {"test", [](Interp&, const Value& v, CallArgs&) { return v.is_string() && test_exists(v.str()); }},
      {"eq", eq}, {"equalto", eq}, {"==", eq},
      {"ne", ne}, {"!=", ne},
      {"lt", lt}, {"lessthan", lt}, {"<", lt},
      {"le", le}, {"<=", le},
      {"gt", gt}, {"greaterthan", gt}, {">", gt},
      {"ge", ge}, {">=", ge},
  };
  return r;
}

}  // namespace

bool Interp::test(const std::string& name, const Value& v, CallArgs& args) {
  const auto& r = registry();
  const auto it = r.find(name);
  if (it == r.end()) throw TypeError("unknown or unsupported test '" + name + "'");
  return it->second(*this, v, args);
}

}  // namespace qs::jinja
