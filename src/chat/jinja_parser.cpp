#include "chat/jinja_parser.h"

#include <algorithm>
#include <initializer_list>
#include <string_view>

namespace qs::jinja {

namespace {

constexpr int kMaxNesting = 64;  // bounds parser and evaluator recursion

// Tags jinja2 knows but this interpreter does not implement: named in the error.
const char* const kUnsupportedTags[] = {"include", "import", "from", "extends", "block", "call", "with",
                                        "do", "autoescape", "trans", "pluralize", "endcall"};

class Parser {
 public:
  explicit Parser(const std::vector<Token>& t) : t_(t) {}

  Body parse() {
    std::string end;
    Body b = subparse({}, end);
    return b;
  }

 private:
  const std::vector<Token>& t_;
  size_t i_ = 0;
  int depth_ = 0;
  int height_ = 0;  // depth_ plus the levels added by left-deep loops (see ChainGuard)
  int loop_depth_ = 0;
  std::vector<MacroDef*> macros_;  // macros being parsed, to note varargs/kwargs use
  struct OpenBlock {
    const char* tag;
    SourcePos pos;
    std::string closer;
  };
  std::vector<OpenBlock> open_;  // for error messages about mismatched end tags

  struct DepthGuard {
    Parser& p;
    DepthGuard(Parser& parser, SourcePos pos) : p(parser) {
      ++p.height_;
      if (++p.depth_ > kMaxNesting) throw Error("template nested too deeply (limit " + std::to_string(kMaxNesting) + ")", pos);
    }
    ~DepthGuard() {
      --p.depth_;
      --p.height_;
    }
  };
  // Loops that build left-deep trees (a.b.c, a + b + c, f()(), x is t is u, ...) add one level of
  // height per iteration without recursing here, but the evaluator (and the destructor) recurse per
  // level. Each iteration adds to height_ (limit kMaxChainHeight) until the loop ends.
  static constexpr int kMaxChainHeight = 1024;
  struct ChainGuard {
    Parser& p;
    int n = 0;
    explicit ChainGuard(Parser& parser) : p(parser) {}
    void grow(SourcePos pos) {
      ++n;
      if (++p.height_ > kMaxChainHeight)
        throw Error("expression nested too deeply (limit " + std::to_string(kMaxChainHeight) + ")", pos);
    }
    ~ChainGuard() { p.height_ -= n; }
  };

  const Token& cur() const { return t_[i_]; }
  const Token& peek(size_t k = 1) const { return t_[std::min(i_ + k, t_.size() - 1)]; }
  const Token& next() {
    const Token& t = t_[i_];
    if (i_ + 1 < t_.size()) ++i_;
    return t;
  }
  bool is_op(const char* op) const { return cur().type == Tok::Op && cur().text == op; }
  bool is_name(const char* n) const { return cur().type == Tok::Name && cur().text == n; }
  bool skip_op(const char* op) {
    if (!is_op(op)) return false;
    next();
    return true;
  }
  bool skip_name(const char* n) {
    if (!is_name(n)) return false;
    next();
    return true;
  }

  static std::string describe(const Token& t) {
    switch (t.type) {
      case Tok::Data: return "template text";
      case Tok::VarBegin: return "'{{'";
      case Tok::VarEnd: return "end of print statement '}}'";
      case Tok::BlockBegin: return "'{%'";
      case Tok::BlockEnd: return "end of statement block '%}'";
      case Tok::Name: return "name '" + t.text + "'";
      case Tok::String: return "string literal";
      case Tok::Int:
      case Tok::Float: return "number " + t.text;
      case Tok::Op: return "'" + t.text + "'";
      case Tok::Eof: return "end of template";
    }
    return "token";
  }

  [[noreturn]] void fail(const std::string& msg, SourcePos pos) const { throw Error(msg, pos); }
  [[noreturn]] void unexpected(const char* expected) const {
    fail(std::string("unexpected ") + describe(cur()) + ", expected " + expected, cur().pos);
  }
  void expect_op(const char* op) {
    if (!skip_op(op)) unexpected((std::string("'") + op + "'").c_str());
  }
  std::string expect_name() {
    if (cur().type != Tok::Name) unexpected("a name");
    return next().text;
  }
  void expect_block_end() {
    if (cur().type != Tok::BlockEnd) unexpected("end of statement block '%}'");
    next();
  }

  // ---- statements ----

  Body subparse(std::initializer_list<const char*> ends, std::string& which, SourcePos opened = {},
                const char* opener = nullptr) {
    std::string closer;
    for (const char* e : ends)
      if (std::string_view(e).substr(0, 3) == "end") closer = e;
    if (opener) open_.push_back({opener, opened, closer});
    struct Pop {
      std::vector<OpenBlock>& v;
      bool active;
      ~Pop() {
        if (active) v.pop_back();
      }
    } pop{open_, opener != nullptr};
    Body body;
    while (true) {
      const Token& t = cur();
      switch (t.type) {
        case Tok::Data: {
          auto s = std::make_unique<Stmt>(StmtKind::Text, t.pos);
          s->text = t.text;
          body.push_back(std::move(s));
          next();
          break;
        }
        case Tok::VarBegin: {
          next();
          auto s = std::make_unique<Stmt>(StmtKind::Print, t.pos);
          s->expr = parse_tuple(true);
          if (cur().type != Tok::VarEnd) unexpected("end of print statement '}}'");
          next();
          body.push_back(std::move(s));
          break;
        }
        case Tok::BlockBegin: {
          const Token& name = peek();
          if (name.type == Tok::Name)
            for (const char* e : ends)
              if (name.text == e) {
                next();
                next();
                which = e;
                return body;
              }
          next();
          body.push_back(parse_statement());
          break;
        }
        case Tok::Eof:
          if (ends.size() == 0) return body;
          fail(std::string("unexpected end of template: '") + opener + "' block opened at " +
                   std::to_string(opened.line) + ":" + std::to_string(opened.col) + " was never closed (expected '" +
                   closer + "')",
               t.pos);
        default: unexpected("template text or a tag");
      }
    }
  }

  StmtPtr parse_statement() {
    const Token& t = cur();
    if (t.type != Tok::Name) unexpected("a statement name");
    DepthGuard g(*this, t.pos);
    const std::string n = t.text;
    const SourcePos pos = t.pos;
    if (n == "if") return parse_if(pos);
    if (n == "for") return parse_for(pos);
    if (n == "set") return parse_set(pos);
    if (n == "macro") return parse_macro(pos);
    if (n == "filter") return parse_filter_block(pos);
    if (n == "generation") {  // HF's AssistantTracker extension: renders its body unchanged
      next();
      expect_block_end();
      auto s = std::make_unique<Stmt>(StmtKind::Scope, pos);
      std::string end;
      s->body = subparse({"endgeneration"}, end, pos, "generation");
      expect_block_end();
      return s;
    }
    if (n == "break" || n == "continue") {
      next();
      if (loop_depth_ == 0) fail("'" + n + "' outside of a loop", pos);
      expect_block_end();
      return std::make_unique<Stmt>(n == "break" ? StmtKind::Break : StmtKind::Continue, pos);
    }
    for (const char* u : kUnsupportedTags)
      if (n == u) fail("unsupported tag '" + n + "'", pos);
    if (n.rfind("end", 0) == 0 || n == "elif" || n == "else") {
      if (open_.empty()) fail("unexpected '" + n + "': no block is open", pos);
      const OpenBlock& b = open_.back();
      fail("unexpected '" + n + "': the innermost open block is '" + b.tag + "' from " + std::to_string(b.pos.line) +
               ":" + std::to_string(b.pos.col) + ", which needs '" + b.closer + "'",
           pos);
    }
    fail("unknown tag '" + n + "'", pos);
  }

  StmtPtr parse_if(SourcePos pos) {
    next();
    auto s = std::make_unique<Stmt>(StmtKind::If, pos);
    while (true) {
      ExprPtr test = parse_tuple(false);
      expect_block_end();
      std::string which;
      Body b = subparse({"elif", "else", "endif"}, which, pos, "if");
      s->branches.emplace_back(std::move(test), std::move(b));
      if (which == "elif") continue;
      if (which == "else") {
        expect_block_end();
        s->else_body = subparse({"endif"}, which, pos, "if");
      }
      expect_block_end();
      return s;
    }
  }

  StmtPtr parse_for(SourcePos pos) {
    next();
    auto s = std::make_unique<Stmt>(StmtKind::For, pos);
    s->target = parse_target(false);
    if (!skip_name("in")) unexpected("'in'");
    s->expr = parse_tuple(false, /*stop_at_if=*/true);
    if (skip_name("if")) s->cond = parse_expression(true);
    if (is_name("recursive")) fail("unsupported: recursive for loops", cur().pos);
    expect_block_end();
    std::string which;
    ++loop_depth_;
    s->body = subparse({"endfor", "else"}, which, pos, "for");
    --loop_depth_;
    if (which == "else") {
      expect_block_end();
      s->else_body = subparse({"endfor"}, which, pos, "for");
    }
    expect_block_end();
    return s;
  }

  StmtPtr parse_set(SourcePos pos) {
    next();
    Target target = parse_target(true);
    if (skip_op("=")) {
      auto s = std::make_unique<Stmt>(StmtKind::Set, pos);
      s->target = std::move(target);
      s->expr = parse_tuple(true);
      expect_block_end();
      return s;
    }
    auto s = std::make_unique<Stmt>(StmtKind::SetBlock, pos);
    s->target = std::move(target);
    if (is_op("|")) s->expr = parse_filter_chain(nullptr);
    expect_block_end();
    std::string which;
    s->body = subparse({"endset"}, which, pos, "set");
    expect_block_end();
    return s;
  }

  StmtPtr parse_filter_block(SourcePos pos) {
    next();
    auto s = std::make_unique<Stmt>(StmtKind::FilterBlock, pos);
    s->expr = parse_filter_chain(nullptr, /*start_inline=*/true);
    expect_block_end();
    std::string which;
    s->body = subparse({"endfilter"}, which, pos, "filter");
    expect_block_end();
    return s;
  }

  StmtPtr parse_macro(SourcePos pos) {
    next();
    auto def = std::make_shared<MacroDef>();
    def->name = expect_name();
    expect_op("(");
    while (!is_op(")")) {
      if (!def->params.empty()) expect_op(",");
      if (is_op(")")) break;
      def->params.push_back(expect_name());
      def->defaults.push_back(skip_op("=") ? parse_expression(true) : nullptr);
    }
    expect_op(")");
    expect_block_end();
    macros_.push_back(def.get());
    const int saved_loops = loop_depth_;
    loop_depth_ = 0;
    std::string which;
    def->body = subparse({"endmacro"}, which, pos, "macro");
    loop_depth_ = saved_loops;
    macros_.pop_back();
    if (cur().type == Tok::Name) next();  // {% endmacro name %}
    expect_block_end();
    auto s = std::make_unique<Stmt>(StmtKind::Macro, pos);
    s->macro = std::move(def);
    return s;
  }

  Target parse_target(bool allow_ns) {
    Target tg;
    const SourcePos pos = cur().pos;
    const bool paren = skip_op("(");
    tg.names.push_back(expect_name());
    if (allow_ns && !paren && skip_op(".")) {
      tg.attr = expect_name();
      return tg;
    }
    while (skip_op(",")) {
      tg.tuple = true;
      if (cur().type != Tok::Name) break;
      tg.names.push_back(expect_name());
    }
    if (paren) {
      tg.tuple = true;
      expect_op(")");
    }
    for (const auto& n : tg.names)
      if (n == "true" || n == "false" || n == "none" || n == "True" || n == "False" || n == "None")
        fail("cannot assign to '" + n + "'", pos);
    return tg;
  }

  // ---- expressions ----

  ExprPtr make(ExprKind k, SourcePos p) { return std::make_unique<Expr>(k, p); }

  bool at_tuple_end(bool stop_at_if) const {
    if (cur().type == Tok::VarEnd || cur().type == Tok::BlockEnd || is_op(")")) return true;
    return stop_at_if && (is_name("if") || is_name("recursive"));
  }

  // A comma-separated list becomes a tuple: {{ a, b }}, {% for x in a, b %}.
  ExprPtr parse_tuple(bool with_condexpr, bool stop_at_if = false, bool explicit_parens = false) {
    const SourcePos pos = cur().pos;
    std::vector<ExprPtr> items;
    bool saw_comma = false;
    while (true) {
      if (!items.empty()) {
        if (!skip_op(",")) break;
        saw_comma = true;
      }
      if (at_tuple_end(stop_at_if)) break;
      items.push_back(parse_expression(with_condexpr));
    }
    if (!saw_comma) {
      if (items.empty()) {
        if (explicit_parens) return make_tuple({}, pos);
        unexpected("an expression");
      }
      return std::move(items[0]);
    }
    return make_tuple(std::move(items), pos);
  }

  ExprPtr make_tuple(std::vector<ExprPtr> items, SourcePos pos) {
    auto e = make(ExprKind::Tuple, pos);
    e->kids = std::move(items);
    return e;
  }

  ExprPtr parse_expression(bool with_condexpr) { return with_condexpr ? parse_condexpr() : parse_or(); }

  ExprPtr parse_condexpr() {
    DepthGuard g(*this, cur().pos);
    ExprPtr e = parse_or();
    ChainGuard chain(*this);
    while (is_name("if")) {
      chain.grow(cur().pos);
      const SourcePos pos = next().pos;
      auto c = make(ExprKind::CondExpr, pos);
      ExprPtr test = parse_or();
      ExprPtr other = skip_name("else") ? parse_condexpr() : nullptr;
      c->kids.push_back(std::move(test));
      c->kids.push_back(std::move(e));
      c->kids.push_back(std::move(other));
      e = std::move(c);
    }
    return e;
  }

  ExprPtr binary(ExprKind k, ExprPtr l, ExprPtr r, SourcePos pos, std::string op = {}) {
    auto e = make(k, pos);
    e->name = std::move(op);
    e->kids.push_back(std::move(l));
    e->kids.push_back(std::move(r));
    return e;
  }

  ExprPtr parse_or() {
    ExprPtr e = parse_and();
    ChainGuard chain(*this);
    while (is_name("or")) {
      chain.grow(cur().pos);
      const SourcePos pos = next().pos;
      e = binary(ExprKind::Or, std::move(e), parse_and(), pos);
    }
    return e;
  }

  ExprPtr parse_and() {
    ExprPtr e = parse_not();
    ChainGuard chain(*this);
    while (is_name("and")) {
      chain.grow(cur().pos);
      const SourcePos pos = next().pos;
      e = binary(ExprKind::And, std::move(e), parse_not(), pos);
    }
    return e;
  }

  ExprPtr parse_not() {
    if (is_name("not")) {
      DepthGuard g(*this, cur().pos);
      const SourcePos pos = next().pos;
      auto e = make(ExprKind::Not, pos);
      e->kids.push_back(parse_not());
      return e;
    }
    return parse_compare();
  }

  ExprPtr parse_compare() {
    const SourcePos pos = cur().pos;
    ExprPtr first = parse_math1();
    std::vector<std::string> ops;
    std::vector<ExprPtr> rest;
    while (true) {
      if (cur().type == Tok::Op && (cur().text == "==" || cur().text == "!=" || cur().text == "<" ||
                                    cur().text == "<=" || cur().text == ">" || cur().text == ">=")) {
        ops.push_back(next().text);
      } else if (is_name("in")) {
        next();
        ops.push_back("in");
      } else if (is_name("not") && peek().type == Tok::Name && peek().text == "in") {
        next();
        next();
        ops.push_back("notin");
      } else {
        break;
      }
      rest.push_back(parse_math1());
    }
    if (ops.empty()) return first;
    auto e = make(ExprKind::Compare, pos);
    e->kids.push_back(std::move(first));
    for (auto& r : rest) e->kids.push_back(std::move(r));
    e->ops = std::move(ops);
    return e;
  }

  ExprPtr parse_math1() {
    ExprPtr e = parse_concat();
    ChainGuard chain(*this);
    while (is_op("+") || is_op("-")) {
      chain.grow(cur().pos);
      const Token& op = next();
      e = binary(ExprKind::Binary, std::move(e), parse_concat(), op.pos, op.text);
    }
    return e;
  }

  ExprPtr parse_concat() {
    const SourcePos pos = cur().pos;
    ExprPtr e = parse_math2();
    if (!is_op("~")) return e;
    auto c = make(ExprKind::Concat, pos);
    c->kids.push_back(std::move(e));
    while (skip_op("~")) c->kids.push_back(parse_math2());
    return c;
  }

  ExprPtr parse_math2() {
    ExprPtr e = parse_pow();
    ChainGuard chain(*this);
    while (is_op("*") || is_op("/") || is_op("//") || is_op("%")) {
      chain.grow(cur().pos);
      const Token& op = next();
      e = binary(ExprKind::Binary, std::move(e), parse_pow(), op.pos, op.text);
    }
    return e;
  }

  ExprPtr parse_pow() {
    ExprPtr e = parse_unary(true);
    ChainGuard chain(*this);
    while (is_op("**")) {  // left-associative in jinja2, unlike Python
      chain.grow(cur().pos);
      const Token& op = next();
      e = binary(ExprKind::Binary, std::move(e), parse_unary(true), op.pos, op.text);
    }
    return e;
  }

  ExprPtr parse_unary(bool with_filter) {
    DepthGuard g(*this, cur().pos);
    ExprPtr e;
    if (is_op("-") || is_op("+")) {
      const Token& op = next();
      e = make(op.text == "-" ? ExprKind::Neg : ExprKind::Pos, op.pos);
      e->kids.push_back(parse_unary(false));
    } else {
      e = parse_primary();
    }
    e = parse_postfix(std::move(e));
    if (with_filter) e = parse_filter_expr(std::move(e));
    return e;
  }

  ExprPtr literal(Value v, SourcePos pos) {
    auto e = make(ExprKind::Literal, pos);
    e->value = std::move(v);
    return e;
  }

  ExprPtr parse_primary() {
    const Token& t = cur();
    switch (t.type) {
      case Tok::Name: {
        next();
        if (t.text == "true" || t.text == "True") return literal(Value(true), t.pos);
        if (t.text == "false" || t.text == "False") return literal(Value(false), t.pos);
        if (t.text == "none" || t.text == "None") return literal(Value(nullptr), t.pos);
        if (!macros_.empty() && t.text == "varargs") macros_.back()->uses_varargs = true;
        if (!macros_.empty() && t.text == "kwargs") macros_.back()->uses_kwargs = true;
        if (t.text == "caller") fail("unsupported: 'caller' ({% call %} blocks)", t.pos);
        auto e = make(ExprKind::Name, t.pos);
        e->name = t.text;
        return e;
      }
      case Tok::String: {
        std::string s;
        while (cur().type == Tok::String) s += next().text;  // adjacent literals concatenate
        return literal(Value(std::move(s)), t.pos);
      }
      case Tok::Int: next(); return literal(Value(t.ival), t.pos);
      case Tok::Float: next(); return literal(Value(t.fval), t.pos);
      case Tok::Op:
        if (t.text == "(") {
          next();
          ExprPtr e = parse_tuple(true, false, true);
          expect_op(")");
          return e;
        }
        if (t.text == "[") return parse_list();
        if (t.text == "{") return parse_dict();
        break;
      default: break;
    }
    unexpected("an expression");
  }

  ExprPtr parse_list() {
    auto e = make(ExprKind::List, next().pos);
    while (!is_op("]")) {
      if (!e->kids.empty()) expect_op(",");
      if (is_op("]")) break;
      e->kids.push_back(parse_expression(true));
    }
    expect_op("]");
    return e;
  }

  ExprPtr parse_dict() {
    auto e = make(ExprKind::Dict, next().pos);
    while (!is_op("}")) {
      if (!e->kids.empty()) expect_op(",");
      if (is_op("}")) break;
      e->kids.push_back(parse_expression(true));
      expect_op(":");
      e->kids.push_back(parse_expression(true));
    }
    expect_op("}");
    return e;
  }

  ExprPtr parse_postfix(ExprPtr e) {
    ChainGuard chain(*this);
    while (true) {
      chain.grow(cur().pos);
      if (is_op(".")) {
        const SourcePos pos = next().pos;
        if (cur().type == Tok::Name) {
          auto a = make(ExprKind::GetAttr, pos);
          a->name = next().text;
          a->kids.push_back(std::move(e));
          e = std::move(a);
        } else if (cur().type == Tok::Int) {
          auto a = make(ExprKind::GetItem, pos);
          a->kids.push_back(std::move(e));
          a->kids.push_back(literal(Value(next().ival), pos));
          e = std::move(a);
        } else {
          unexpected("an attribute name");
        }
      } else if (is_op("[")) {
        e = parse_subscript(std::move(e));
      } else if (is_op("(")) {
        e = parse_call(std::move(e));
      } else {
        return e;
      }
    }
  }

  ExprPtr parse_subscript(ExprPtr obj) {
    const SourcePos pos = next().pos;  // '['
    std::vector<ExprPtr> parts;        // start, stop, step (null = omitted)
    bool slice = false;
    if (!is_op(":")) {
      parts.push_back(parse_expression(true));
    } else {
      parts.push_back(nullptr);
    }
    if (skip_op(":")) {
      slice = true;
      parts.push_back(is_op(":") || is_op("]") ? nullptr : parse_expression(true));
      if (skip_op(":")) parts.push_back(is_op("]") ? nullptr : parse_expression(true));
      else parts.push_back(nullptr);
    }
    if (is_op(",")) fail("unsupported: tuple subscripts", cur().pos);
    expect_op("]");
    auto e = make(slice ? ExprKind::Slice : ExprKind::GetItem, pos);
    e->kids.push_back(std::move(obj));
    for (auto& p : parts) e->kids.push_back(std::move(p));
    return e;
  }

  CallSyntax parse_call_args() {
    expect_op("(");
    CallSyntax c;
    bool first = true;
    while (!is_op(")")) {
      if (!first) expect_op(",");
      first = false;
      if (is_op(")")) break;
      if (is_op("*") || is_op("**")) fail("unsupported: *args / **kwargs in calls", cur().pos);
      if (cur().type == Tok::Name && peek().type == Tok::Op && peek().text == "=") {
        std::string key = next().text;
        next();
        c.kwargs.emplace_back(std::move(key), parse_expression(true));
      } else {
        if (!c.kwargs.empty()) fail("positional argument follows keyword argument", cur().pos);
        c.args.push_back(parse_expression(true));
      }
    }
    expect_op(")");
    return c;
  }

  ExprPtr parse_call(ExprPtr callee) {
    auto e = make(ExprKind::Call, cur().pos);
    e->call = parse_call_args();
    e->kids.push_back(std::move(callee));
    return e;
  }

  std::string dotted_name() {
    std::string n = expect_name();
    while (is_op(".") && peek().type == Tok::Name) {
      next();
      n += "." + next().text;
    }
    return n;
  }

  // "| f | g(x)"; with obj null the chain is applied later to a block's output.
  ExprPtr parse_filter_chain(ExprPtr obj, bool start_inline = false) {
    ChainGuard chain(*this);
    while (is_op("|") || start_inline) {
      chain.grow(cur().pos);
      if (!start_inline) next();
      start_inline = false;
      const SourcePos pos = cur().pos;
      auto f = make(ExprKind::Filter, pos);
      f->name = dotted_name();
      if (is_op("(")) f->call = parse_call_args();
      f->kids.push_back(std::move(obj));
      obj = std::move(f);
    }
    return obj;
  }

  ExprPtr parse_filter_expr(ExprPtr e) {
    ChainGuard chain(*this);
    while (true) {
      chain.grow(cur().pos);
      if (is_op("|")) {
        e = parse_filter_chain(std::move(e));
      } else if (is_name("is")) {
        e = parse_test(std::move(e));
      } else if (is_op("(")) {
        e = parse_call(std::move(e));
      } else {
        return e;
      }
    }
  }

  ExprPtr parse_test(ExprPtr obj) {
    next();  // 'is'
    auto e = make(ExprKind::Test, cur().pos);
    e->negated = skip_name("not");
    e->name = dotted_name();
    if (is_op("(")) {
      e->call = parse_call_args();
    } else if ((cur().type == Tok::Name || cur().type == Tok::String || cur().type == Tok::Int ||
                cur().type == Tok::Float || is_op("(") || is_op("[") || is_op("{")) &&
               !is_name("else") && !is_name("or") && !is_name("and")) {
      if (is_name("is")) fail("you cannot chain multiple tests with 'is'", cur().pos);
      e->call.args.push_back(parse_postfix(parse_primary()));
    }
    e->kids.push_back(std::move(obj));
    return e;
  }
};

}  // namespace

Body parse_template(const std::vector<Token>& tokens) { return Parser(tokens).parse(); }

}  // namespace qs::jinja
