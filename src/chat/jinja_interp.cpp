#include "chat/jinja_interp.h"

#include <algorithm>
#include <stdexcept>

#include "chat/jinja_error.h"
#include "chat/jinja_methods.h"
#include "chat/jinja_ops.h"

namespace qs::jinja {

const Value* Frame::find(std::string_view name) const {
  for (const Frame* f = this; f; f = f->parent.get())
    for (const auto& [k, v] : f->vars)
      if (k == name) return &v;
  return nullptr;
}

void Frame::set(const std::string& name, Value v) {
  for (auto& [k, old] : vars)
    if (k == name) {
      old = std::move(v);
      return;
    }
  vars.emplace_back(name, std::move(v));
}

const Value* CallArgs::get(size_t i, std::string_view name) const {
  if (i < args.size()) return &args[i];
  for (const auto& [k, v] : kwargs)
    if (k == name) return &v;
  return nullptr;
}

Value CallArgs::get_or(size_t i, std::string_view name, Value def) const {
  const Value* v = get(i, name);
  return v ? *v : std::move(def);
}

Interp::~Interp() {
  for (const auto& w : namespaces_) {
    const std::shared_ptr<void> alive = w.lock();  // keeps this one alive while its members go
    if (!alive) continue;
    auto members = std::move(static_cast<DictObj*>(alive.get())->items);
    static_cast<DictObj*>(alive.get())->items.clear();
    members.clear();  // may free other namespaces; their weak entries then simply expire
  }
}

void Interp::track_namespace(const Value& ns) {
  if (namespaces_.size() >= namespaces_compact_at_) {  // drop the expired so a loop of namespaces stays small
    std::erase_if(namespaces_, [](const std::weak_ptr<void>& w) { return w.expired(); });
    namespaces_compact_at_ = std::max<size_t>(64, 2 * namespaces_.size());
  }
  namespaces_.push_back(ns.weak_object());
}

std::string Interp::render(const Body& body, const FramePtr& top) {
  std::string out;
  out_ = &out;
  top_ = top;
  produced_ = 0;
  iterations_ = 0;
  work_ = 0;
  call_depth_ = 0;
  try {
    exec(body, top);
  } catch (...) {
    out_ = nullptr;
    top_.reset();
    throw;
  }
  out_ = nullptr;
  top_.reset();
  return out;
}

void Interp::charge_iterations(uint64_t n) {
  iterations_ += n;
  if (iterations_ > limits_.max_iterations)
    throw TypeError("loop iteration limit exceeded (" + std::to_string(limits_.max_iterations) + ")");
}

void Interp::charge_work() {
  if (++work_ > limits_.max_work)
    throw TypeError("template work limit exceeded (" + std::to_string(limits_.max_work) + " steps)");
}

void Interp::check_length(size_t n) const {
  if (n > limits_.max_output) throw TypeError("value too large (limit " + std::to_string(limits_.max_output) + ")");
}

void Interp::emit(std::string_view s) {
  produced_ += s.size();
  if (produced_ > limits_.max_output)
    throw TypeError("output size limit exceeded (" + std::to_string(limits_.max_output) + " bytes)");
  out_->append(s);
}

Interp::Flow Interp::exec(const Body& body, const FramePtr& f) {
  for (const auto& s : body) {
    const Flow fl = exec_stmt(*s, f);
    if (fl != Flow::Normal) return fl;
  }
  return Flow::Normal;
}

Interp::Flow Interp::exec_stmt(const Stmt& s, const FramePtr& f) {
  try {
    charge_work();
    switch (s.kind) {
      case StmtKind::Text: emit(s.text); return Flow::Normal;
      case StmtKind::Print: {
        const Value v = eval(*s.expr, f);
        if (v.is_string()) emit(v.str());
        else emit(py_str(v));
        return Flow::Normal;
      }
      case StmtKind::If:
        for (const auto& [test, body] : s.branches)
          if (truthy(eval(*test, f))) return exec(body, f);
        return exec(s.else_body, f);
      case StmtKind::For: return exec_for(s, f);
      case StmtKind::Set: assign(s.target, eval(*s.expr, f), f, s.pos); return Flow::Normal;
      case StmtKind::SetBlock: {
        Value v(capture(s.body, f));
        if (s.expr) v = apply_filter_chain(*s.expr, std::move(v), f);
        assign(s.target, v, f, s.pos);
        return Flow::Normal;
      }
      case StmtKind::FilterBlock: {
        const Value v = apply_filter_chain(*s.expr, Value(capture(s.body, f)), f);
        emit(py_str(v));
        return Flow::Normal;
      }
      case StmtKind::Macro: f->set(s.macro->name, make_macro(s.macro, f)); return Flow::Normal;
      case StmtKind::Break: return Flow::Break;
      case StmtKind::Continue: return Flow::Continue;
      case StmtKind::Scope: return exec(s.body, f);
    }
  } catch (const TypeError& e) {
    throw Error(e.what(), s.pos);
  } catch (const std::invalid_argument& e) {
    throw Error(e.what(), s.pos);
  }
  return Flow::Normal;
}

std::string Interp::capture(const Body& body, const FramePtr& f) {
  std::string buf;
  std::string* saved = out_;
  out_ = &buf;
  try {
    exec(body, std::make_shared<Frame>(Frame{{}, f}));
  } catch (...) {
    out_ = saved;
    throw;
  }
  out_ = saved;
  return buf;
}

namespace {

Value loop_object(size_t i, size_t n, const std::vector<Value>& items) {
  auto d = std::make_shared<DictObj>();
  const auto idx = static_cast<int64_t>(i), len = static_cast<int64_t>(n);
  d->items = {{"index", Value(idx + 1)},
              {"index0", Value(idx)},
              {"revindex", Value(len - idx)},
              {"revindex0", Value(len - idx - 1)},
              {"first", Value(i == 0)},
              {"last", Value(i + 1 == n)},
              {"length", Value(len)},
              {"depth", Value(1)},
              {"depth0", Value(0)},
              {"previtem", i > 0 ? items[i - 1] : Value::undefined("there is no previous item")},
              {"nextitem", i + 1 < n ? items[i + 1] : Value::undefined("there is no next item")},
              {"cycle", Value::callable("loop.cycle", [idx](Interp&, CallArgs& a) -> Value {
                 if (a.args.empty()) throw TypeError("no items for cycling given");
                 return a.args[idx % static_cast<int64_t>(a.args.size())];
               })}};
  return Value::dict(std::move(d));
}

}  // namespace

Interp::Flow Interp::exec_for(const Stmt& s, const FramePtr& f) {
  std::vector<Value> items = iterate(eval(*s.expr, f));
  if (s.cond) {  // "for x in xs if cond": filter first, so loop.length counts what is kept
    std::vector<Value> kept;
    for (auto& it : items) {
      charge_iterations(1);
      auto probe = std::make_shared<Frame>(Frame{{}, f});
      assign(s.target, it, probe, s.pos);
      if (truthy(eval(*s.cond, probe))) kept.push_back(std::move(it));
    }
    items = std::move(kept);
  }
  if (items.empty()) return exec(s.else_body, std::make_shared<Frame>(Frame{{}, f}));
  for (size_t i = 0; i < items.size(); ++i) {
    charge_iterations(1);
    auto iter = std::make_shared<Frame>(Frame{{}, f});  // each iteration has its own scope, as in jinja2
    assign(s.target, items[i], iter, s.pos);
    iter->set("loop", loop_object(i, items.size(), items));
    if (exec(s.body, iter) == Flow::Break) break;
  }
  return Flow::Normal;
}

void Interp::assign(const Target& t, const Value& v, const FramePtr& f, SourcePos pos) {
  if (!t.attr.empty()) {
    const Value* ns = f->find(t.names[0]);
    if (!ns || ns->kind() != Kind::Namespace)
      throw Error("cannot assign attribute '" + t.attr + "' on non-namespace object '" + t.names[0] + "'", pos);
    ns->ns_obj().set(t.attr, v);
    return;
  }
  if (!t.tuple) {
    f->set(t.names[0], v);
    return;
  }
  const std::vector<Value> parts = iterate(v);
  if (parts.size() != t.names.size())
    throw Error(std::string(parts.size() > t.names.size() ? "too many" : "not enough") + " values to unpack (expected " +
                    std::to_string(t.names.size()) + ", got " + std::to_string(parts.size()) + ")",
                pos);
  for (size_t i = 0; i < parts.size(); ++i) f->set(t.names[i], parts[i]);
}

Value Interp::apply_filter_chain(const Expr& chain, Value input, const FramePtr& f) {
  if (chain.kids[0]) input = apply_filter_chain(*chain.kids[0], std::move(input), f);
  CallArgs args = eval_args(chain.call, f);
  try {
    return filter(chain.name, input, args);
  } catch (const TypeError& e) {
    throw Error(e.what(), chain.pos);
  }
}

Value Interp::make_macro(const std::shared_ptr<const MacroDef>& def, const FramePtr& f) {
  std::weak_ptr<Frame> closure = f;  // weak: the frame holds this macro, a strong ref would leak the cycle
  return Value::callable(def->name, [def, closure](Interp& in, CallArgs& a) -> Value {
    if (a.args.size() > def->params.size() && !def->uses_varargs)
      throw TypeError("macro '" + def->name + "' takes not more than " + std::to_string(def->params.size()) +
                      " argument(s)");
    if (++in.call_depth_ > in.limits_.max_call_depth) {
      --in.call_depth_;
      throw TypeError("macro call depth limit exceeded (" + std::to_string(in.limits_.max_call_depth) + ")");
    }
    struct Leave {
      int& d;
      ~Leave() { --d; }
    } leave{in.call_depth_};
    FramePtr parent = closure.lock();
    auto scope = std::make_shared<Frame>(Frame{{}, parent ? parent : in.top_});
    auto kwargs = std::make_shared<DictObj>();
    for (const auto& [k, v] : a.kwargs) {
      bool known = false;
      for (const auto& p : def->params) known = known || p == k;
      if (!known && !def->uses_kwargs) throw TypeError("macro '" + def->name + "' takes no keyword argument '" + k + "'");
      if (!known) kwargs->set(k, v);
    }
    for (size_t i = 0; i < def->params.size(); ++i) {
      const Value* v = a.get(i, def->params[i]);
      if (v) scope->set(def->params[i], *v);
      else if (def->defaults[i]) scope->set(def->params[i], in.eval(*def->defaults[i], scope));
      else scope->set(def->params[i], Value::undefined("parameter '" + def->params[i] + "' was not provided"));
    }
    if (def->uses_varargs) {
      std::vector<Value> extra;
      for (size_t i = def->params.size(); i < a.args.size(); ++i) extra.push_back(a.args[i]);
      scope->set("varargs", Value::list(std::move(extra), true));
    }
    if (def->uses_kwargs) scope->set("kwargs", Value::dict(kwargs));
    std::string buf;
    std::string* saved = in.out_;
    in.out_ = &buf;
    try {
      in.exec(def->body, scope);
    } catch (...) {
      in.out_ = saved;
      throw;
    }
    in.out_ = saved;
    return Value(std::move(buf));
  });
}

CallArgs Interp::eval_args(const CallSyntax& c, const FramePtr& f) {
  CallArgs a;
  a.args.reserve(c.args.size());
  for (const auto& e : c.args) a.args.push_back(eval(*e, f));
  for (const auto& [k, e] : c.kwargs) a.kwargs.emplace_back(k, eval(*e, f));
  return a;
}

Value Interp::call(const Value& callee, CallArgs& args) {
  if (callee.is_undefined()) fail_undefined(callee);
  if (callee.kind() != Kind::Callable) throw TypeError(std::string("'") + type_name(callee) + "' object is not callable");
  return callee.fn().fn(*this, args);
}

Value Interp::eval(const Expr& e, const FramePtr& f) {
  try {
    charge_work();
    return eval_inner(e, f);
  } catch (const TypeError& err) {
    throw Error(err.what(), e.pos);
  } catch (const std::invalid_argument& err) {
    throw Error(err.what(), e.pos);
  }
}

Value Interp::eval_call(const Expr& e, const FramePtr& f) {
  const Expr& callee = *e.kids[0];
  if (callee.kind == ExprKind::GetAttr) {  // obj.method(...) without building a bound method
    const Value obj = eval(*callee.kids[0], f);
    if (find_method(obj, callee.name) == MethodKind::Safe) {
      CallArgs args = eval_args(e.call, f);
      return call_method(*this, obj, callee.name, args);
    }
    const Value fn = get_attr(obj, callee.name);
    CallArgs args = eval_args(e.call, f);
    return call(fn, args);
  }
  const Value fn = eval(callee, f);
  CallArgs args = eval_args(e.call, f);
  return call(fn, args);
}

Value Interp::eval_inner(const Expr& e, const FramePtr& f) {
  switch (e.kind) {
    case ExprKind::Literal: return e.value;
    case ExprKind::Name: {
      const Value* v = f->find(e.name);
      return v ? *v : Value::undefined("'" + e.name + "' is undefined");
    }
    case ExprKind::List:
    case ExprKind::Tuple: {
      std::vector<Value> items;
      items.reserve(e.kids.size());
      for (const auto& k : e.kids) items.push_back(eval(*k, f));
      return Value::list(std::move(items), e.kind == ExprKind::Tuple);
    }
    case ExprKind::Dict: {
      auto d = std::make_shared<DictObj>();
      for (size_t i = 0; i + 1 < e.kids.size(); i += 2) {
        const Value k = eval(*e.kids[i], f);
        if (!k.is_string()) throw TypeError("unsupported: dict literal keys must be strings");
        d->set(k.str(), eval(*e.kids[i + 1], f));
      }
      return Value::dict(std::move(d));
    }
    case ExprKind::GetAttr: return get_attr(eval(*e.kids[0], f), e.name);
    case ExprKind::GetItem: return get_item(eval(*e.kids[0], f), eval(*e.kids[1], f));
    case ExprKind::Slice: {
      const Value obj = eval(*e.kids[0], f);
      Value parts[3];
      for (int i = 0; i < 3; ++i) parts[i] = e.kids[i + 1] ? eval(*e.kids[i + 1], f) : Value(nullptr);
      return get_slice(obj, parts[0], parts[1], parts[2]);
    }
    case ExprKind::Call: return eval_call(e, f);
    case ExprKind::Filter: {
      const Value v = eval(*e.kids[0], f);
      CallArgs args = eval_args(e.call, f);
      return filter(e.name, v, args);
    }
    case ExprKind::Test: {
      const Value v = eval(*e.kids[0], f);
      CallArgs args = eval_args(e.call, f);
      return Value(test(e.name, v, args) != e.negated);
    }
    case ExprKind::Neg: return negate(eval(*e.kids[0], f));
    case ExprKind::Pos: {
      Value v = eval(*e.kids[0], f);
      if (v.is_undefined()) fail_undefined(v);
      if (!v.is_number()) throw TypeError(std::string("bad operand type for unary +: '") + type_name(v) + "'");
      return v.kind() == Kind::Bool ? Value(v.as_int()) : v;
    }
    case ExprKind::Not: return Value(!truthy(eval(*e.kids[0], f)));
    case ExprKind::And: {
      Value l = eval(*e.kids[0], f);
      return truthy(l) ? eval(*e.kids[1], f) : l;
    }
    case ExprKind::Or: {
      Value l = eval(*e.kids[0], f);
      return truthy(l) ? l : eval(*e.kids[1], f);
    }
    case ExprKind::Binary: return binary_op(e.name, eval(*e.kids[0], f), eval(*e.kids[1], f), limits_.max_output);
    case ExprKind::Compare: {
      Value left = eval(*e.kids[0], f);
      for (size_t i = 0; i < e.ops.size(); ++i) {
        Value right = eval(*e.kids[i + 1], f);
        const std::string& op = e.ops[i];
        bool ok;
        if (op == "==") ok = values_equal(left, right);
        else if (op == "!=") ok = !values_equal(left, right);
        else if (op == "in") ok = contains(right, left);
        else if (op == "notin") ok = !contains(right, left);
        else {
          const int c = compare_values(left, right);
          ok = op == "<" ? c < 0 : op == "<=" ? c <= 0 : op == ">" ? c > 0 : c >= 0;
        }
        if (!ok) return Value(false);
        left = std::move(right);
      }
      return Value(true);
    }
    case ExprKind::Concat: {
      std::string out;
      for (const auto& k : e.kids) {
        out += py_str(eval(*k, f));
        check_length(out.size());
      }
      return Value(std::move(out));
    }
    case ExprKind::CondExpr:
      if (truthy(eval(*e.kids[0], f))) return eval(*e.kids[1], f);
      if (e.kids[2]) return eval(*e.kids[2], f);
      return Value::undefined("the inline if-expression evaluated to false and no else section was defined");
  }
  throw TypeError("unknown expression");
}

}  // namespace qs::jinja
