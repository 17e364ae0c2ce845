// Bridges between JSON and template values: loading a context, and Python json.dumps for `tojson`.
#pragma once
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "chat/jinja_value.h"

namespace qs::jinja {

Value from_json(const nlohmann::ordered_json& j);

struct DumpOptions {
  bool ensure_ascii = false;          // HF's tojson default
  std::optional<std::string> indent;  // nullopt: one line
  std::string item_sep = ", ";        // Python defaults: ", " / ": " (item "," when indenting)
  std::string key_sep = ": ";
  bool sort_keys = false;
};

// json.dumps(v, ...) byte for byte; throws TypeError for values JSON cannot hold (undefined, functions).
std::string dumps(const Value& v, const DumpOptions& opt);

}  // namespace qs::jinja
