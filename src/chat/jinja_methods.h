// The Python str / dict / list methods templates call (s.split(), d.items(), ...), as the immutable sandbox
// allows them: mutating methods exist but refuse to run.
#pragma once
#include <string>

#include "chat/jinja_value.h"

namespace qs::jinja {

enum class MethodKind { None, Safe, Unsafe };
MethodKind find_method(const Value& obj, const std::string& name);

// A callable bound to obj (for `f = s.upper` style access); find_method must have said Safe.
Value bind_method(const Value& obj, const std::string& name);
Value call_method(Interp& in, const Value& obj, const std::string& name, CallArgs& args);

}  // namespace qs::jinja
