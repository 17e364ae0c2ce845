// Fuzzes the server's JSON/SSE serialisation of generated text: arbitrary bytes (any UTF-8 or not) put
// into a chunk must serialise without throwing, as one well-formed "data: {json}\n\n" event whose JSON
// parses back.
#include <cstdint>
#include <string>

#include "server/api_error.h"
#include "server/sse.h"

using qs::server::json;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  json chunk = {{"object", "chat.completion.chunk"},
                {"choices", json::array({{{"index", 0}, {"delta", {{"content", text}}}}})}};
  const std::string ev = qs::server::sse_data(chunk);
  if (ev.rfind("data: ", 0) != 0 || ev.size() < 8 || ev.compare(ev.size() - 2, 2, "\n\n") != 0) __builtin_trap();
  const std::string payload = ev.substr(6, ev.size() - 8);
  if (payload.find('\n') != std::string::npos) __builtin_trap();  // would split the event
  auto back = json::parse(payload, nullptr, false);
  if (back.is_discarded()) __builtin_trap();
  // Valid UTF-8 must survive unchanged.
  (void)back["choices"][0]["delta"]["content"].get<std::string>();
  return 0;
}
