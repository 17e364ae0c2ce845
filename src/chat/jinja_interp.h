// Tree-walking evaluator: executes a parsed template against a context of values.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "chat/jinja_ast.h"
#include "chat/jinja_value.h"

namespace qs::jinja {

// Guards against runaway templates (a template in a downloaded GGUF is untrusted input): each ends the
// render with an Error naming the limit. Filters and formatting check the output size before they
// allocate, and format widths and precisions are bounded (kMaxFormatField, jinja_ops.h).
struct Limits {
  size_t max_output = size_t{64} << 20;  // bytes of output (and of any single string built)
  uint64_t max_iterations = 1000000;     // loop iterations and range() elements, in total
  int max_call_depth = 64;               // nested macro calls
  uint64_t max_work = 5000000;           // expressions evaluated and statements run, in total
};

// A scope: a for-loop iteration, a macro call, or the template's top level.
struct Frame {
  std::vector<std::pair<std::string, Value>> vars;
  std::shared_ptr<Frame> parent;
  const Value* find(std::string_view name) const;
  void set(const std::string& name, Value v);
};
using FramePtr = std::shared_ptr<Frame>;

// Arguments of a call, filter or test, bound Python-style by position or keyword.
struct CallArgs {
  std::vector<Value> args;
  std::vector<std::pair<std::string, Value>> kwargs;
  const Value* get(size_t i, std::string_view name) const;
  Value get_or(size_t i, std::string_view name, Value def) const;
};

class Interp {
 public:
  explicit Interp(const Limits& limits) : limits_(limits) {}
  ~Interp();
  Interp(const Interp&) = delete;
  Interp& operator=(const Interp&) = delete;

  std::string render(const Body& body, const FramePtr& top);

  Value eval(const Expr& e, const FramePtr& f);
  Value call(const Value& callee, CallArgs& args);
  Value filter(const std::string& name, const Value& v, CallArgs& args);
  bool test(const std::string& name, const Value& v, CallArgs& args);

  void charge_iterations(uint64_t n);
  void charge_work();
  void check_length(size_t n) const;  // for strings and lists being built
  const Limits& limits() const { return limits_; }
  // Namespaces are the one mutable object, so the only way to build a reference cycle
  // (`{% set ns.me = ns %}`, or via a list holding ns). Every one is registered here and emptied when the
  // interpreter ends, which frees such cycles; rendering returns a string, so no value outlives it.
  void track_namespace(const Value& ns);

 private:
  enum class Flow { Normal, Break, Continue };

  Flow exec(const Body& body, const FramePtr& f);
  Flow exec_stmt(const Stmt& s, const FramePtr& f);
  Flow exec_for(const Stmt& s, const FramePtr& f);
  void assign(const Target& t, const Value& v, const FramePtr& f, SourcePos pos);
  std::string capture(const Body& body, const FramePtr& f);
  Value apply_filter_chain(const Expr& chain, Value input, const FramePtr& f);
  Value eval_inner(const Expr& e, const FramePtr& f);
  Value eval_call(const Expr& e, const FramePtr& f);
  CallArgs eval_args(const CallSyntax& c, const FramePtr& f);
  Value make_macro(const std::shared_ptr<const MacroDef>& def, const FramePtr& f);
  void emit(std::string_view s);

  Limits limits_;
  std::string* out_ = nullptr;
  FramePtr top_;  // scope for macros whose defining scope has ended
  size_t produced_ = 0;
  uint64_t iterations_ = 0;
  uint64_t work_ = 0;
  int call_depth_ = 0;
  std::vector<std::weak_ptr<void>> namespaces_;
  size_t namespaces_compact_at_ = 64;
};

}  // namespace qs::jinja
