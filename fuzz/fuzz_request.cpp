// Fuzzes the server's request validation: arbitrary bytes as a request body, parsed as the server does
// (parse_request_json: depth check, then json::parse without exceptions), then through every parse_*_request. ApiError is the expected
// failure; anything else escaping is a finding (the server would answer 500 or die).
#include <cmath>
#include <cstdint>
#include <string>

#include "server/api_error.h"
#include "server/request_validation.h"

using qs::server::json;

static void check_gen(const qs::server::GenParams& g, const qs::server::RequestLimits& lim) {
  const auto& s = g.sampling;
  (void)s;
  if (g.top_logprobs < 0 || g.top_logprobs > 20) __builtin_trap();
  if (g.stop.size() > lim.max_stop) __builtin_trap();
  for (const auto& st : g.stop)
    if (st.size() > lim.max_stop_len) __builtin_trap();
  if (g.logit_bias.size() > lim.max_logit_bias) __builtin_trap();
  for (const auto& [id, b] : g.logit_bias)
    if (id < 0 || id >= lim.n_vocab || std::isnan(b)) __builtin_trap();
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 256 * 1024) return 0;
  const std::string body_text(reinterpret_cast<const char*>(data), size);
  json body;
  try {
    body = qs::server::parse_request_json(body_text);
  } catch (const qs::server::ApiError&) {
    return 0;
  }

  qs::server::RequestLimits lim;
  lim.n_vocab = 1000;
  lim.n_ctx = 512;
  try {
    auto r = qs::server::parse_chat_request(body, lim);
    check_gen(r.gen, lim);
    (void)qs::server::dump_json(r.messages);
  } catch (const qs::server::ApiError& e) {
    (void)qs::server::dump_json(e.to_json());
  }
  try {
    auto r = qs::server::parse_completion_request(body, lim);
    check_gen(r.gen, lim);
    for (int32_t id : r.prompt_tokens)
      if (id < 0 || id >= lim.n_vocab) __builtin_trap();
  } catch (const qs::server::ApiError& e) {
    (void)qs::server::dump_json(e.to_json());
  }
  try {
    (void)qs::server::parse_tokenize_request(body);
  } catch (const qs::server::ApiError&) {
  }
  try {
    for (int32_t id : qs::server::parse_detokenize_request(body, lim.n_vocab))
      if (id < 0 || id >= lim.n_vocab) __builtin_trap();
  } catch (const qs::server::ApiError&) {
  }
  return 0;
}
