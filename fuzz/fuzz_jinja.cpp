// Fuzzes the Jinja interpreter: the input up to the first NUL is a template, the rest (if present and
// valid JSON) the messages. Parse + render with tight limits; jinja::Error and jinja::RaisedError are
// the expected failures (TypeError must have been turned into Error by the interpreter).
#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

#include "chat/jinja_error.h"
#include "chat/jinja_template.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 64 * 1024) return 0;
  const std::string in(reinterpret_cast<const char*>(data), size);
  const size_t nul = in.find('\0');
  const std::string src = in.substr(0, nul);

  nlohmann::ordered_json messages = nlohmann::ordered_json::array(
      {{{"role", "system"}, {"content", "You are helpful."}}, {{"role", "user"}, {"content", "Hi"}}});
  if (nul != std::string::npos) {
    auto j = nlohmann::ordered_json::parse(in.begin() + static_cast<std::ptrdiff_t>(nul) + 1, in.end(), nullptr,
                                           /*allow_exceptions=*/false);
    if (!j.is_discarded()) messages = std::move(j);
  }
  nlohmann::ordered_json ctx = {{"messages", messages},
                                {"tools", nullptr},
                                {"add_generation_prompt", true},
                                {"bos_token", "<｜begin▁of▁sentence｜>"},
                                {"eos_token", "<｜end▁of▁sentence｜>"}};

  qs::jinja::Limits lim;
  lim.max_output = 1 << 20;
  lim.max_iterations = 20000;
  lim.max_call_depth = 16;
  try {
    const auto t = qs::jinja::Template::parse(src);
    (void)t.render(ctx, lim);
  } catch (const qs::jinja::Error&) {
  } catch (const qs::jinja::RaisedError&) {
  }
  return 0;
}
