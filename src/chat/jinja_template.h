// Public entry point of the Jinja interpreter: parse once, render many times (render is const and thread-safe).
#pragma once
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "chat/jinja_error.h"
#include "chat/jinja_interp.h"

namespace qs::jinja {

class Template {
 public:
  // Throws Error for malformed or unsupported syntax, with its line:col.
  static Template parse(const std::string& source);

  // context: a JSON object whose keys become template variables. Throws Error (or RaisedError for the
  // template's own raise_exception) when rendering fails.
  std::string render(const nlohmann::ordered_json& context, const Limits& limits = {}) const;

 private:
  std::shared_ptr<const Body> body_;
};

}  // namespace qs::jinja
