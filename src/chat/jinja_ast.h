// Syntax tree of a parsed template. Immutable after parsing so one Template can render concurrently.
#pragma once
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "chat/jinja_error.h"
#include "chat/jinja_value.h"

namespace qs::jinja {

struct Expr;
struct Stmt;
using ExprPtr = std::unique_ptr<Expr>;
using StmtPtr = std::unique_ptr<Stmt>;
using Body = std::vector<StmtPtr>;

struct CallSyntax {
  std::vector<ExprPtr> args;
  std::vector<std::pair<std::string, ExprPtr>> kwargs;
};

enum class ExprKind {
  Literal, Name, List, Tuple, Dict, GetAttr, GetItem, Slice, Call, Filter, Test,
  Neg, Pos, Not, And, Or, Binary, Compare, Concat, CondExpr
};

struct Expr {
  ExprKind kind;
  SourcePos pos;
  Value value;                   // Literal
  std::string name;              // Name, GetAttr attribute, Filter/Test name, Binary/Compare operator
  std::vector<ExprPtr> kids;     // operands / elements / dict keys and values interleaved / slice parts
  std::vector<std::string> ops;  // Compare: one operator per extra operand
  CallSyntax call;               // Call, Filter, Test arguments
  bool negated = false;          // Test: "is not"
  Expr(ExprKind k, SourcePos p) : kind(k), pos(p) {}
};

enum class StmtKind { Text, Print, If, For, Set, SetBlock, Macro, Break, Continue, FilterBlock, Scope };

// Left side of set/for: a name, a tuple of names, or namespace attribute (ns.attr).
struct Target {
  std::vector<std::string> names;
  bool tuple = false;
  std::string attr;  // non-empty: names[0].attr
};

struct MacroDef {
  std::string name;
  std::vector<std::string> params;
  std::vector<ExprPtr> defaults;  // aligned with params; null where there is none
  bool uses_varargs = false, uses_kwargs = false;
  Body body;
};

struct Stmt {
  StmtKind kind;
  SourcePos pos;
  std::string text;                                      // Text
  ExprPtr expr;                                          // Print, Set value, For iterable, FilterBlock filter
  std::vector<std::pair<ExprPtr, Body>> branches;        // If / elif (test, body)
  Body body, else_body;                                  // For, If's else, SetBlock, Scope
  Target target;                                         // For, Set, SetBlock
  ExprPtr cond;                                          // For ... if cond
  std::shared_ptr<const MacroDef> macro;                 // Macro (shared: macro values keep it alive)
  Stmt(StmtKind k, SourcePos p) : kind(k), pos(p) {}
};

}  // namespace qs::jinja
