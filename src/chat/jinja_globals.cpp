#include "chat/jinja_globals.h"

#include <ctime>

#include "chat/jinja_error.h"

namespace qs::jinja {

namespace {

constexpr int64_t kMaxRange = 100000;  // jinja2's sandbox refuses larger ranges

Value g_range(Interp& in, CallArgs& a) {
  for (const auto& v : a.args)
    if (!v.is_int()) throw TypeError(std::string("'") + type_name(v) + "' object cannot be interpreted as an integer");
  int64_t start = 0, stop = 0, step = 1;
  if (a.args.size() == 1) {
    stop = a.args[0].as_int();
  } else if (a.args.size() == 2 || a.args.size() == 3) {
    start = a.args[0].as_int();
    stop = a.args[1].as_int();
    if (a.args.size() == 3) step = a.args[2].as_int();
  } else {
    throw TypeError("range expected 1 to 3 integer arguments");
  }
  if (step == 0) throw TypeError("range() arg 3 must not be zero");
  int64_t n = 0;
  if (step > 0 && start < stop) n = (stop - start - 1) / step + 1;
  if (step < 0 && start > stop) n = (start - stop - 1) / (-step) + 1;
  if (n > kMaxRange)
    throw TypeError("Range too big. The sandbox blocks ranges larger than MAX_RANGE (" + std::to_string(kMaxRange) + ").");
  in.charge_iterations(static_cast<uint64_t>(n));
  std::vector<Value> out;
  out.reserve(n);
  for (int64_t i = 0; i < n; ++i) out.emplace_back(start + i * step);
  return Value::list(std::move(out));
}

Value g_namespace(Interp& in, CallArgs& a) {
  Value ns = Value::ns();
  in.track_namespace(ns);
  for (const auto& v : a.args) {
    if (!v.is_dict()) throw TypeError("namespace() positional argument must be a mapping");
    for (const auto& [k, x] : v.dict_obj().items) ns.ns_obj().set(k, x);
  }
  for (const auto& [k, x] : a.kwargs) ns.ns_obj().set(k, x);
  return ns;
}

Value g_dict(Interp&, CallArgs& a) {
  auto d = std::make_shared<DictObj>();
  for (const auto& v : a.args) {
    if (!v.is_dict()) throw TypeError("dict() positional argument must be a mapping");
    for (const auto& [k, x] : v.dict_obj().items) d->set(k, x);
  }
  for (const auto& [k, x] : a.kwargs) d->set(k, x);
  return Value::dict(std::move(d));
}

Value g_raise_exception(Interp&, CallArgs& a) {
  throw RaisedError(a.args.empty() ? std::string() : py_str(a.args[0]));
}

Value g_strftime_now(Interp&, CallArgs& a) {
  if (a.args.empty() || !a.args[0].is_string()) throw TypeError("strftime_now() needs a format string");
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  localtime_r(&now, &tm);
  char buf[512];
  const size_t n = std::strftime(buf, sizeof buf, a.args[0].str().c_str(), &tm);
  return Value(std::string(buf, n));
}

}  // namespace

void add_globals(Frame& f) {
  f.set("range", Value::callable("range", g_range));
  f.set("namespace", Value::callable("namespace", g_namespace));
  f.set("dict", Value::callable("dict", g_dict));
  f.set("raise_exception", Value::callable("raise_exception", g_raise_exception));
  f.set("strftime_now", Value::callable("strftime_now", g_strftime_now));
}

}  // namespace qs::jinja
