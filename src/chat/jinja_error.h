// Errors raised while parsing or rendering a Jinja template.
#pragma once
#include <stdexcept>
#include <string>

namespace qs::jinja {

struct SourcePos {
  int line = 0;  // 1-based; 0 = unknown
  int col = 0;   // 1-based, in code points
};

// A template that cannot be parsed or rendered; what() names the problem and where it is.
class Error : public std::runtime_error {
 public:
  Error(const std::string& msg, SourcePos pos)
      : std::runtime_error(pos.line > 0 ? "template error at " + std::to_string(pos.line) + ":" +
                                              std::to_string(pos.col) + ": " + msg
                                        : "template error: " + msg),
        message_(msg),
        pos_(pos) {}
  const std::string& message() const { return message_; }
  SourcePos pos() const { return pos_; }

 private:
  std::string message_;
  SourcePos pos_;
};

// raise_exception(msg) from a template: what() is exactly the template's message, as in HF.
class RaisedError : public std::runtime_error {
 public:
  explicit RaisedError(const std::string& msg) : std::runtime_error(msg) {}
};

// Failures without a known position (type errors deep in a filter); the interpreter adds the position.
class TypeError : public std::runtime_error {
 public:
  explicit TypeError(const std::string& msg) : std::runtime_error(msg) {}
};

}  // namespace qs::jinja
