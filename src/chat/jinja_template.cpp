#include "chat/jinja_template.h"

#include "chat/jinja_globals.h"
#include "chat/jinja_json.h"
#include "chat/jinja_lexer.h"
#include "chat/jinja_parser.h"
#include "util/utf8_check.h"

namespace qs::jinja {

Template Template::parse(const std::string& source) {
  if (const size_t bad = first_invalid_utf8(source); bad != std::string::npos)
    throw Error("the template is not valid UTF-8 (byte " + std::to_string(bad) + ")", {});
  Template t;
  t.body_ = std::make_shared<const Body>(parse_template(tokenize(normalize_source(source))));
  return t;
}

std::string Template::render(const nlohmann::ordered_json& context, const Limits& limits) const {
  if (!context.is_null() && !context.is_object()) throw Error("render context must be a JSON object", {});
  auto globals = std::make_shared<Frame>();
  add_globals(*globals);
  auto top = std::make_shared<Frame>(Frame{{}, globals});
  if (context.is_object())
    for (auto it = context.begin(); it != context.end(); ++it) top->set(it.key(), from_json(it.value()));
  Interp in(limits);
  try {
    return in.render(*body_, top);
  } catch (const TypeError& e) {  // raised outside any statement (should not happen), still reported cleanly
    throw Error(e.what(), {});
  }
}

}  // namespace qs::jinja
