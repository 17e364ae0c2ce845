// Every endpoint as a Route over http_types.h (the generation endpoints live in routes_openai.cpp),
// and what every request passes before its body is read: the Host check on loopback binds (DNS
// rebinding) and the API key. Independent of the HTTP library.
#pragma once
#include <optional>
#include <string>
#include <vector>

#include "server/api_error.h"
#include "server/http_types.h"
#include "server/server_context.h"

namespace qs::server {

std::vector<Route> api_routes(ServerContext& ctx);

// nullopt when the request may proceed; otherwise the error to answer (then close the connection).
std::optional<ApiError> check_access(const ServerContext& ctx, const HttpRequest& head);
// The body's framing, before it is read: a Content-Length that is not a decimal count within max_body
// (400/413) and a compressed body (415: it would inflate past any byte limit before one applies).
std::optional<ApiError> check_framing(const HttpRequest& head, size_t max_body);

// Runs a handler; an exception becomes its API error response (400 for malformed JSON, 503 when
// out of memory, 500 otherwise).
void run_guarded(const RouteHandler& handler, const HttpRequest& req, HttpResponse& res);

// A JSON body for an error response that has none (404 from routing, 413 from the body limit, ...).
std::string error_body(int status, const HttpRequest& req);

bool is_loopback_host(const std::string& host);

}  // namespace qs::server
