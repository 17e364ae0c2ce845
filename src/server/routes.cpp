#include "server/routes.h"

#include <cctype>
#include <exception>
#include <new>

#include "server/routes_openai.h"
#include "server/web_ui.h"

namespace qs::server {

namespace {

// Host header allowed on a loopback bind: localhost, 127.0.0.1 or [::1], with our port.
bool host_header_ok(const std::string& value, int port) {
  std::string host, port_s;
  if (!value.empty() && value[0] == '[') {
    const size_t end = value.find(']');
    if (end == std::string::npos) return false;
    host = value.substr(1, end - 1);
    const std::string rest = value.substr(end + 1);
    if (!rest.empty()) {
      if (rest[0] != ':') return false;
      port_s = rest.substr(1);
    }
  } else {
    const size_t colon = value.find(':');
    host = value.substr(0, colon);
    if (colon != std::string::npos) port_s = value.substr(colon + 1);
  }
  std::string lower;
  for (char c : host) lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (lower != "localhost" && lower != "127.0.0.1" && lower != "::1") return false;
  if (port_s.empty()) return port == 80;
  if (port_s.size() > 5 || port_s.find_first_not_of("0123456789") != std::string::npos) return false;
  return std::stoi(port_s) == port;
}

bool key_matches(const std::string& given, const std::vector<std::string>& keys) {
  bool ok = false;
  for (const auto& k : keys) {
    // Constant time in the key's content (lengths are not secret enough to matter).
    if (k.size() != given.size()) continue;
    volatile unsigned char diff = 0;
    for (size_t i = 0; i < k.size(); ++i) diff = diff | static_cast<unsigned char>(k[i] ^ given[i]);
    if (diff == 0) ok = true;
  }
  return ok;
}

bool is_public_path(const std::string& p) { return p == "/health" || p == "/v1/health" || p == "/" || p == "/index.html"; }

void require_model(const ServerContext& ctx) {
  const ServerState st = ctx.state.load();
  if (st != ServerState::Ready && st != ServerState::Draining)
    throw ApiError(503, st == ServerState::Loading ? "the model is loading" : "the model is not available", "unavailable_error", "",
                   "model_loading");
}

void send_json(HttpResponse& res, const json& j) { res.set_content(dump_json(j), "application/json"); }

void health(ServerContext& ctx, HttpResponse& res) {
  json j;
  switch (ctx.state.load()) {
    case ServerState::Ready: res.status = 200, j = json{{"status", "ok"}}; break;
    case ServerState::Loading: res.status = 503, j = json{{"status", "loading"}}; break;
    case ServerState::Draining: res.status = 503, j = json{{"status", "draining"}}; break;
    case ServerState::Failed: res.status = 503, j = json{{"status", "error"}, {"error", ctx.load_error}}; break;
  }
  if (res.status == 503) res.set_header("Retry-After", "1");
  send_json(res, j);
}

void models(ServerContext& ctx, HttpResponse& res) {
  require_model(ctx);
  json data = json::array();
  if (ctx.model) {
    json m = json::object();
    m["id"] = ctx.model_id;
    m["object"] = "model";
    m["created"] = ctx.created;
    m["owned_by"] = "qiusuo";
    m["meta"] = json{{"n_ctx", ctx.opt.ctx_size}, {"n_vocab", ctx.model->n_vocab()}, {"parallel", ctx.opt.parallel}};
    data.push_back(std::move(m));
  }
  send_json(res, json{{"object", "list"}, {"data", data}});
}

void tokenize(ServerContext& ctx, const HttpRequest& req, HttpResponse& res) {
  require_model(ctx);
  const TokenizeRequest r = parse_tokenize_request(parse_json_body(req));
  const auto ids = ctx.tok->encode(r.content, r.add_special && ctx.tok->add_bos(), r.parse_special);
  json tokens = json::array();
  for (int32_t id : ids) {
    if (r.with_pieces) tokens.push_back(json{{"id", id}, {"piece", ctx.tok->token_bytes(id)}});
    else tokens.push_back(id);
  }
  send_json(res, json{{"tokens", tokens}});
}

void detokenize(ServerContext& ctx, const HttpRequest& req, HttpResponse& res) {
  require_model(ctx);
  const auto ids = parse_detokenize_request(parse_json_body(req), ctx.tok->size());
  send_json(res, json{{"content", ctx.tok->decode(ids)}});
}

// The prompt a chat request would run, as llama-server's /apply-template returns it.
void apply_template(ServerContext& ctx, const HttpRequest& req, HttpResponse& res) {
  require_model(ctx);
  const ChatRequest cr = parse_chat_request(parse_json_body(req), ctx.limits);
  if (!ctx.tmpl) throw bad_request("the model has no chat template", "messages", "no_chat_template");
  send_json(res, json{{"prompt", build_chat_prompt(ctx, cr).text}});
}

void page(HttpResponse& res) {
  res.set_header("Content-Security-Policy", "default-src 'self'; style-src 'unsafe-inline'; script-src 'unsafe-inline'");
  res.set_header("X-Content-Type-Options", "nosniff");
  res.set_content(web_ui_html(), "text/html; charset=utf-8");
}

}  // namespace

bool is_loopback_host(const std::string& h) {
  return h == "localhost" || h == "::1" || h == "[::1]" || h.rfind("127.", 0) == 0;
}

std::optional<ApiError> check_access(const ServerContext& ctx, const HttpRequest& head) {
  if (ctx.loopback) {
    const std::string* host = head.header("Host");
    if (!host) return ApiError(400, "missing Host header", "invalid_request_error", "", "missing_host");
    if (!host_header_ok(*host, ctx.port))
      return ApiError(403, "Host header not allowed: this server only answers to localhost / 127.0.0.1 / [::1] on port " +
                               std::to_string(ctx.port),
                      "permission_error", "", "invalid_host");
  }
  if (!ctx.opt.api_keys.empty() && !is_public_path(head.path)) {
    const std::string* auth = head.header("Authorization");
    const std::string prefix = "Bearer ";
    if (!auth || auth->size() <= prefix.size() || auth->compare(0, prefix.size(), prefix) != 0 ||
        !key_matches(auth->substr(prefix.size()), ctx.opt.api_keys))
      return ApiError(401, "invalid or missing API key (Authorization: Bearer KEY)", "authentication_error", "",
                      "invalid_api_key");
  }
  return std::nullopt;
}

std::optional<ApiError> check_framing(const HttpRequest& head, size_t max_body) {
  if (const std::string* enc = head.header("Content-Encoding"); enc && !enc->empty() && *enc != "identity")
    return ApiError(415, "compressed request bodies are not accepted (Content-Encoding: " + enc->substr(0, 32) +
                             "); send the body uncompressed",
                    "invalid_request_error", "", "unsupported_content_encoding");
  if (const std::string* len = head.header("Content-Length")) {
    if (len->empty() || len->size() > 19 || len->find_first_not_of("0123456789") != std::string::npos)
      return ApiError(400, "malformed Content-Length", "invalid_request_error", "", "bad_content_length");
    if (std::stoull(*len) > max_body)
      return ApiError(413, "the request body is too large (limit " + std::to_string(max_body) + " bytes)",
                      "invalid_request_error", "", "body_too_large");
  }
  return std::nullopt;
}

void run_guarded(const RouteHandler& handler, const HttpRequest& req, HttpResponse& res) {
  try {
    handler(req, res);
  } catch (const ApiError& e) {
    send_error(res, e);
  } catch (const nlohmann::json::exception& e) {
    send_error(res, bad_request(std::string("invalid request: ") + e.what()));
  } catch (const std::bad_alloc&) {
    send_error(res, ApiError(503, "out of memory", "server_error"));
  } catch (const std::exception& e) {
    send_error(res, ApiError(500, e.what(), "server_error"));
  } catch (...) {
    send_error(res, ApiError(500, "internal error", "server_error"));
  }
}

std::string error_body(int status, const HttpRequest& req) {
  const std::string msg = status == 404   ? "no route for " + req.method + " " + req.path
                          : status == 405 ? req.path + " does not answer " + req.method + " (see the Allow header)"
                          : status == 413 ? "the request body is too large"
                          : status == 400 ? "bad request"
                                          : "error";
  return dump_json(error_json(status, msg));
}

std::vector<Route> api_routes(ServerContext& ctx) {
  std::vector<Route> r;
  auto add = [&r](const char* method, std::initializer_list<const char*> paths, RouteHandler h) {
    for (const char* p : paths) r.push_back(Route{method, p, h});
  };
  add("POST", {"/v1/chat/completions", "/chat/completions", "/beta/chat/completions"},
      [&ctx](const HttpRequest& req, HttpResponse& res) { handle_chat_completions(ctx, req, res); });
  add("POST", {"/v1/completions", "/completions", "/beta/completions"},
      [&ctx](const HttpRequest& req, HttpResponse& res) { handle_completions(ctx, req, res); });
  add("GET", {"/health", "/v1/health"}, [&ctx](const HttpRequest&, HttpResponse& res) { health(ctx, res); });
  add("GET", {"/v1/models", "/models"}, [&ctx](const HttpRequest&, HttpResponse& res) { models(ctx, res); });
  add("GET", {"/metrics"},
      [&ctx](const HttpRequest&, HttpResponse& res) { res.set_content(ctx.metrics.render(), "text/plain; version=0.0.4"); });
  add("POST", {"/tokenize", "/v1/tokenize"}, [&ctx](const HttpRequest& req, HttpResponse& res) { tokenize(ctx, req, res); });
  add("POST", {"/detokenize", "/v1/detokenize"}, [&ctx](const HttpRequest& req, HttpResponse& res) { detokenize(ctx, req, res); });
  add("POST", {"/apply-template", "/v1/apply-template"},
      [&ctx](const HttpRequest& req, HttpResponse& res) { apply_template(ctx, req, res); });
  add("GET", {"/", "/index.html"}, [](const HttpRequest&, HttpResponse& res) { page(res); });
  return r;
}

}  // namespace qs::server
