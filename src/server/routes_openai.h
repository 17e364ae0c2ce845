// The generation endpoints: POST /v1/chat/completions and /v1/completions (also without /v1),
// streaming (SSE) and not.
#pragma once
#include "server/http_types.h"
#include "server/request_validation.h"
#include "server/server_context.h"

namespace qs::server {

void handle_chat_completions(ServerContext& ctx, const HttpRequest& req, HttpResponse& res);
void handle_completions(ServerContext& ctx, const HttpRequest& req, HttpResponse& res);

// The chat prompt for a request: the rendered template (with tool and JSON-mode instructions
// where the template itself has none), tokenized. Exposed for tests.
struct ChatPrompt {
  std::string text;
  std::vector<int32_t> tokens;
  bool starts_in_reasoning = false;
};
ChatPrompt build_chat_prompt(const ServerContext& ctx, const ChatRequest& r);

// Parses the body as JSON (400 on failure).
json parse_json_body(const HttpRequest& req);
// Writes an ApiError as the response.
void send_error(HttpResponse& res, const ApiError& e);

}  // namespace qs::server
