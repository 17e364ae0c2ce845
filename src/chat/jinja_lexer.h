// Splits template source into text and tag tokens, applying jinja2's whitespace rules as HF configures them
// (trim_blocks, lstrip_blocks, keep_trailing_newline=False, "-"/"+" modifiers).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "chat/jinja_error.h"

namespace qs::jinja {

enum class Tok : uint8_t { Data, VarBegin, VarEnd, BlockBegin, BlockEnd, Name, String, Int, Float, Op, Eof };

struct Token {
  Tok type;
  std::string text;  // Data text, name, decoded string literal, or operator
  int64_t ival = 0;
  double fval = 0;
  SourcePos pos;
};

// Normalises newlines and drops one trailing newline, as jinja2 does before lexing.
std::string normalize_source(const std::string& src);

std::vector<Token> tokenize(const std::string& normalized_src);

}  // namespace qs::jinja
