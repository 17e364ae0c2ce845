// Builds the syntax tree from tokens, following jinja2's grammar and operator precedence.
#pragma once
#include <vector>

#include "chat/jinja_ast.h"
#include "chat/jinja_lexer.h"

namespace qs::jinja {

// Throws Error naming the construct and position for malformed or unsupported syntax.
Body parse_template(const std::vector<Token>& tokens);

}  // namespace qs::jinja
