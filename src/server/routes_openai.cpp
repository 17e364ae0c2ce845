#include "server/routes_openai.h"

#include <algorithm>
#include <chrono>
#include <random>
#include <string_view>

#include "server/chat_output.h"
#include "server/sse.h"
#include "util/random_id.h"
#include "util/version.h"

namespace qs::server {

namespace {

using namespace std::chrono_literals;

int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

std::string tools_instruction(const ChatRequest& r) {
  std::string s =
      "You can call functions. To call one or more, answer with a tool-call block in exactly this format "
      "and nothing after it:\n<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>function<｜tool▁sep｜>FUNCTION_NAME\n```json\n"
      "{ARGUMENTS AS JSON}\n```<｜tool▁call▁end｜><｜tool▁calls▁end｜>\n\nAvailable functions:\n";
  for (const auto& t : r.tools) s += dump_json(t.at("function")) + "\n";
  if (r.tool_choice == "required") s += "\nYou must call at least one function.";
  if (r.tool_choice == "function") s += "\nYou must call the function " + r.tool_choice_name + ".";
  return s;
}

std::string json_instruction(const ChatRequest& r) {
  std::string s = "Respond with one valid JSON object and nothing else.";
  if (!r.json_schema.is_null()) s += " The object must match this JSON Schema:\n" + dump_json(r.json_schema);
  return s;
}

void require_ready(const ServerContext& ctx) {
  switch (ctx.state.load()) {
    case ServerState::Ready: return;
    case ServerState::Loading: throw ApiError(503, "the model is loading", "unavailable_error", "", "model_loading");
    case ServerState::Draining: throw ApiError(503, "the server is shutting down", "unavailable_error", "", "server_shutdown");
    case ServerState::Failed: throw ApiError(503, "the model failed to load: " + ctx.load_error, "unavailable_error", "", "model_load_failed");
  }
}

std::shared_ptr<GenRequest> make_request(const ServerContext& ctx, std::vector<int32_t> tokens, const GenParams& g,
                                         const char* prompt_param) {
  const int n_ctx = ctx.opt.ctx_size;
  const int p = static_cast<int>(tokens.size());
  if (p == 0) throw bad_request("the prompt encodes to no tokens", prompt_param, "invalid_value");
  if (p >= n_ctx)
    throw bad_request("This model's maximum context length is " + std::to_string(n_ctx) + " tokens; the prompt has " +
                          std::to_string(p) + " tokens and leaves no room for an answer.",
                      prompt_param, "context_length_exceeded");
  const int avail = n_ctx - p;
  if (g.max_tokens > avail)
    throw bad_request("This model's maximum context length is " + std::to_string(n_ctx) + " tokens. However, you requested " +
                          std::to_string(p + g.max_tokens) + " tokens (" + std::to_string(p) + " in the prompt, " +
                          std::to_string(g.max_tokens) + " in the completion).",
                      "max_tokens", "context_length_exceeded");
  for (const auto& [id, b] : g.logit_bias)
    if (id < 0 || id >= ctx.model->n_vocab()) throw bad_request("logit_bias token outside the vocabulary", "logit_bias");
  auto r = std::make_shared<GenRequest>();
  r->prompt = std::move(tokens);
  r->params = g;
  r->max_tokens = g.max_tokens > 0 ? g.max_tokens : avail;
  r->arrival = Clock::now();
  r->deadline = r->arrival + std::chrono::seconds(std::max(1, ctx.opt.timeout_s));
  return r;
}

void submit_or_throw(ServerContext& ctx, const std::shared_ptr<GenRequest>& r) {
  switch (ctx.sched->submit(r)) {
    case Scheduler::SubmitResult::Accepted: return;
    case Scheduler::SubmitResult::QueueFull:
      ctx.metrics.rejected.inc("queue_full");
      throw ApiError(429,
                     "the server is busy: all " + std::to_string(ctx.opt.parallel) + " slots are in use and the queue (" +
                         std::to_string(ctx.opt.max_queue) + ") is full; retry later",
                     "rate_limit_error", "", "queue_full");
    case Scheduler::SubmitResult::ShuttingDown:
      ctx.metrics.rejected.inc("draining");
      throw ApiError(503, "the server is shutting down", "unavailable_error", "", "server_shutdown");
  }
}

// One generation as the HTTP side sees it, shared by the handler and the content provider.
struct Session {
  ServerContext* ctx = nullptr;
  std::shared_ptr<GenRequest> req;
  bool chat = true;
  std::string id, model;
  int64_t created = 0;
  GenParams gen;
  std::unique_ptr<ChatOutput> out;  // chat
  // completions
  std::string text, echo;
  json lp_tokens = json::array(), lp_values = json::array(), lp_top = json::array(), lp_offsets = json::array();
  size_t text_offset = 0;
  // end
  bool done = false, errored = false;
  GenEvent final_event;
  Clock::time_point hard_deadline;

  bool finished() const { return done || errored; }

  Session() = default;
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;
  ~Session() {
    if (ctx) --ctx->open_responses;
  }

  json base(const char* object) const {
    json j = json::object();
    j["id"] = id;
    j["object"] = object;
    j["created"] = created;
    j["model"] = model;
    j["system_fingerprint"] = std::string("qiusuo-") + kVersion;
    return j;
  }

  json chunk(json choice) const {
    json j = base(chat ? "chat.completion.chunk" : "text_completion");
    j["choices"] = json::array({std::move(choice)});
    if (gen.include_usage) j["usage"] = nullptr;
    return j;
  }

  std::string first_chunk() const {
    if (!chat) return "";
    json delta = json{{"role", "assistant"}, {"content", ""}};
    return sse_data(chunk(json{{"index", 0}, {"delta", delta}, {"logprobs", nullptr}, {"finish_reason", nullptr}}));
  }

  json completion_logprobs(size_t from) const {
    json lp = json::object();
    lp["tokens"] = json::array();
    lp["token_logprobs"] = json::array();
    lp["top_logprobs"] = json::array();
    lp["text_offset"] = json::array();
    for (size_t i = from; i < lp_tokens.size(); ++i) {
      lp["tokens"].push_back(lp_tokens[i]);
      lp["token_logprobs"].push_back(lp_values[i]);
      lp["top_logprobs"].push_back(lp_top[i]);
      lp["text_offset"].push_back(lp_offsets[i]);
    }
    return lp;
  }

  // Feeds events; returns the SSE text to send when streaming.
  std::string consume(std::vector<GenEvent>& evs) {
    std::string sse;
    for (auto& ev : evs) {
      if (finished()) break;
      if (ev.kind == GenEvent::Kind::Delta) {
        if (chat) {
          ChatOutput::Delta d = out->push(ev);
          if (gen.stream && !d.empty()) sse += sse_data(chunk(chat_delta_choice(d, nullptr)));
        } else {
          const size_t lp_from = lp_tokens.size();
          add_completion_logprob(ev);
          text += ev.text;
          if (gen.stream && (!ev.text.empty() || gen.logprobs)) {
            json c = json{{"index", 0}, {"text", ev.text}, {"logprobs", gen.logprobs ? completion_logprobs(lp_from) : json(nullptr)},
                          {"finish_reason", nullptr}};
            sse += sse_data(chunk(std::move(c)));
          }
        }
      } else if (ev.kind == GenEvent::Kind::Done) {
        final_event = ev;
        done = true;
        if (chat) {
          ChatOutput::Delta d = out->finish(ev);
          if (gen.stream) {
            ChatOutput::Delta text_part = d;
            text_part.tool_calls = nullptr;
            if (!text_part.empty()) sse += sse_data(chunk(chat_delta_choice(text_part, nullptr)));
            if (!d.tool_calls.is_null()) {
              json delta = json{{"tool_calls", d.tool_calls}};
              sse += sse_data(chunk(json{{"index", 0}, {"delta", delta}, {"logprobs", nullptr}, {"finish_reason", nullptr}}));
            }
            sse += sse_data(chunk(json{{"index", 0}, {"delta", json::object()}, {"logprobs", nullptr},
                                       {"finish_reason", out->finish_reason()}}));
          }
        } else {
          text += ev.text;
          if (gen.stream)
            sse += sse_data(chunk(json{{"index", 0}, {"text", ev.text}, {"logprobs", nullptr}, {"finish_reason", ev.finish_reason}}));
        }
        if (gen.stream) {
          if (gen.include_usage) {
            json u = base(chat ? "chat.completion.chunk" : "text_completion");
            u["choices"] = json::array();
            u["usage"] = usage();
            sse += sse_data(u);
          }
          sse += "data: [DONE]\n\n";
        }
      } else {
        final_event = ev;
        errored = true;
        if (gen.stream) sse += sse_data(error_json(ev.status, ev.message, "", "", ev.code));
      }
    }
    return sse;
  }

  json chat_delta_choice(const ChatOutput::Delta& d, const char* finish) const {
    json delta = json::object();
    if (!d.reasoning.empty()) delta["reasoning_content"] = d.reasoning;
    if (!d.content.empty() || (d.reasoning.empty() && !d.logprobs.empty())) delta["content"] = d.content;
    else if (!d.reasoning.empty()) delta["content"] = nullptr;
    json c = json::object();
    c["index"] = 0;
    c["delta"] = std::move(delta);
    c["logprobs"] = (gen.logprobs && !d.logprobs.empty()) ? json{{"content", d.logprobs}} : json(nullptr);
    c["finish_reason"] = finish ? json(finish) : json(nullptr);
    return c;
  }

  void add_completion_logprob(const GenEvent& ev) {
    if (!gen.logprobs || !ev.has_logprob) return;
    std::string t;
    try {
      t = ctx->tok->token_bytes(ev.lp.id);
    } catch (...) {
    }
    lp_tokens.push_back(t);
    lp_values.push_back(ev.lp.logprob);
    json top = json::object();
    for (const auto& [id, v] : ev.lp.top) {
      std::string tt;
      try {
        tt = ctx->tok->token_bytes(id);
      } catch (...) {
      }
      top[tt] = v;
    }
    lp_top.push_back(std::move(top));
    lp_offsets.push_back(echo.size() + text_offset);
    text_offset += t.size();
  }

  json usage() const { return usage_json(final_event, chat && out ? out->reasoning_tokens() : 0); }

  int status() const { return errored ? final_event.status : 200; }

  json response() const {
    if (errored) return error_json(final_event.status, final_event.message, "", "", final_event.code);
    if (chat) {
      json j = base("chat.completion");
      json choice = json::object();
      choice["index"] = 0;
      choice["message"] = out->message();
      choice["logprobs"] = gen.logprobs ? json{{"content", out->logprobs()}} : json(nullptr);
      choice["finish_reason"] = out->finish_reason();
      j["choices"] = json::array({std::move(choice)});
      j["usage"] = usage();
      return j;
    }
    json j = base("text_completion");
    json choice = json::object();
    choice["index"] = 0;
    choice["text"] = echo + text;
    choice["logprobs"] = gen.logprobs ? completion_logprobs(0) : json(nullptr);
    choice["finish_reason"] = final_event.finish_reason;
    j["choices"] = json::array({std::move(choice)});
    j["usage"] = usage();
    return j;
  }

  void time_out() {
    ctx->sched->cancel(req);
    final_event = GenEvent{};
    final_event.kind = GenEvent::Kind::Error;
    final_event.status = 503;
    final_event.message = "the request timed out";
    final_event.code = "timeout";
    errored = true;
  }
};

bool run_stream(Session& s, BodyWriter& sink) {
  auto last = Clock::now();
  const auto ping = std::chrono::seconds(std::max(1, s.ctx->opt.ping_interval_s));
  auto write = [&](const std::string& d) -> bool {
    if (d.empty()) return true;
    if (!sink.write(d)) return false;
    last = Clock::now();
    return true;
  };
  if (!write(s.first_chunk())) {
    s.ctx->sched->cancel(s.req);
    return false;
  }
  std::vector<GenEvent> evs;
  for (;;) {
    evs.clear();
    if (!s.req->wait_events(evs, 200ms)) {
      const auto now = Clock::now();
      if (now > s.hard_deadline) {
        s.time_out();
        write(sse_data(error_json(503, "the request timed out", "", "", "timeout")));
        return true;
      }
      // Nothing to send (queued, or a long prefill): a client that left would otherwise be
      // noticed only at the next ping (--sse-ping, 10 s), keeping its queue place or slot.
      if (!sink.writable()) {
        s.ctx->sched->cancel(s.req);
        return false;
      }
      if (now - last >= ping && !write(": ping\n\n")) {
        s.ctx->sched->cancel(s.req);
        return false;
      }
      continue;
    }
    if (!write(s.consume(evs))) {
      s.ctx->sched->cancel(s.req);
      return false;
    }
    if (s.finished()) return true;
  }
}

void respond(ServerContext& ctx, const std::shared_ptr<Session>& s, HttpResponse& res) {
  Scheduler* sched = ctx.sched.get();
  res.on_close = [s, sched](bool) {
    if (!s->req->finished()) sched->cancel(s->req);
  };
  if (s->gen.stream) {
    res.status = 200;
    res.set_header("Cache-Control", "no-cache");
    res.set_header("X-Accel-Buffering", "no");
    res.content_type = "text/event-stream";
    res.stream = [s](BodyWriter& sink) { return run_stream(*s, sink); };
    return;
  }
  // Not streamed: wait a little for a quick answer (so errors keep their status code); after
  // that keep the connection alive with whitespace before the JSON body, as DeepSeek's API does,
  // which also notices a client that went away.
  const auto until = Clock::now() + 1500ms;
  std::vector<GenEvent> evs;
  while (!s->finished() && Clock::now() < until) {
    evs.clear();
    if (s->req->wait_events(evs, 100ms)) s->consume(evs);
  }
  if (s->finished()) {
    res.status = s->status();
    if (s->errored && (res.status == 503 || res.status == 429)) res.set_header("Retry-After", "1");
    res.set_content(dump_json(s->response()), "application/json");
    return;
  }
  res.status = 200;
  res.content_type = "application/json";
  res.stream = [s](BodyWriter& sink) {
    auto last = Clock::now();
    std::vector<GenEvent> evs;
    while (!s->finished()) {
      evs.clear();
      if (s->req->wait_events(evs, 200ms)) s->consume(evs);
      if (s->finished()) break;
      const auto now = Clock::now();
      if (now > s->hard_deadline) {
        s->time_out();
        break;
      }
      // Every second, also while tokens keep coming: the write is how a client that went
      // away is noticed (skipping it while decoding let a generation run on to max_tokens).
      if (now - last >= 1s) {
        if (!sink.write("\n")) {
          s->ctx->sched->cancel(s->req);
          return false;
        }
        last = now;
      }
    }
    return sink.write(dump_json(s->response()));
  };
}

std::shared_ptr<Session> new_session(ServerContext& ctx, std::shared_ptr<GenRequest> r, const GenParams& g, bool chat,
                                     const std::string& requested_model) {
  auto s = std::make_shared<Session>();
  s->ctx = &ctx;
  ++ctx.open_responses;
  s->req = std::move(r);
  s->chat = chat;
  s->gen = g;
  s->id = random_id(chat ? "chatcmpl-" : "cmpl-");
  s->created = unix_now();
  s->model = requested_model.empty() ? ctx.model_id : requested_model;
  s->hard_deadline = s->req->deadline + 30s;
  return s;
}

}  // namespace

json parse_json_body(const HttpRequest& req) { return parse_request_json(req.body); }

void send_error(HttpResponse& res, const ApiError& e) {
  res.status = e.status();
  if (e.status() == 429 || e.status() == 503) res.set_header("Retry-After", "1");
  res.set_content(dump_json(e.to_json()), "application/json");
}

ChatPrompt build_chat_prompt(const ServerContext& ctx, const ChatRequest& r) {
  json msgs = r.messages;
  const bool tools_on = !r.tools.is_null() && r.tool_choice != "none";
  std::string extra;
  if (tools_on && !ctx.prompt->renders_tools()) extra += tools_instruction(r);
  if (r.response_format != "text") extra += (extra.empty() ? "" : "\n\n") + json_instruction(r);
  if (!extra.empty()) {
    if (!msgs.empty() && msgs[0]["role"] == "system" && msgs[0]["content"].is_string())
      msgs[0]["content"] = msgs[0]["content"].get<std::string>() + "\n\n" + extra;
    else
      msgs.insert(msgs.begin(), json{{"role", "system"}, {"content", extra}});
  }
  // Thinking for templates with the switch: the request's chat_template_kwargs, else DeepSeek's model
  // names (deepseek-reasoner thinks, deepseek-chat does not), else the server's --reasoning.
  json kwargs = r.template_kwargs;
  if (ctx.prompt->thinking_switch() && !kwargs.contains("thinking")) {
    if (r.model == "deepseek-reasoner" || (r.model != "deepseek-chat" && ctx.opt.reasoning == "on")) kwargs["thinking"] = true;
    else if (r.model == "deepseek-chat" || ctx.opt.reasoning == "off") kwargs["thinking"] = false;
  }
  ChatPrompt p;
  try {
    p.text = ctx.prompt->render(msgs, tools_on && ctx.prompt->renders_tools() ? r.tools : json(), true, kwargs);
  } catch (const std::exception& e) {
    throw bad_request(std::string("the chat template cannot render these messages: ") + e.what(), "messages", "template_error");
  }
  if (r.prefix_completion) p.text += r.assistant_prefix;
  p.tokens = ctx.prompt->tokens(p.text);
  p.starts_in_reasoning = opens_reasoning(p.text);
  return p;
}

void handle_chat_completions(ServerContext& ctx, const HttpRequest& req, HttpResponse& res) {
  require_ready(ctx);
  const json body = parse_json_body(req);
  const ChatRequest cr = parse_chat_request(body, ctx.limits);
  if (!ctx.tmpl)
    throw bad_request("the model has no chat template; use /v1/completions or start the server with --chat-template-file",
                      "messages", "no_chat_template");
  ChatPrompt p = build_chat_prompt(ctx, cr);
  auto r = make_request(ctx, std::move(p.tokens), cr.gen, "messages");
  auto s = new_session(ctx, r, cr.gen, true, cr.model);
  ChatOutput::Options o;
  o.starts_in_reasoning = p.starts_in_reasoning;
  o.tools = !cr.tools.is_null() && cr.tool_choice != "none";
  o.logprobs = cr.gen.logprobs;
  s->out = std::make_unique<ChatOutput>(*ctx.tok, o);
  submit_or_throw(ctx, r);
  respond(ctx, s, res);
}

void handle_completions(ServerContext& ctx, const HttpRequest& req, HttpResponse& res) {
  require_ready(ctx);
  const json body = parse_json_body(req);
  const CompletionRequest cr = parse_completion_request(body, ctx.limits);
  const Tokenizer& tok = *ctx.tok;
  std::vector<int32_t> tokens;
  if (cr.suffix) {
    if (!ctx.has_fim())
      throw bad_request("this model's vocabulary has no fill-in-the-middle tokens; 'suffix' is not supported", "suffix",
                        "fim_unsupported");
    if (cr.prompt_is_tokens) throw bad_request("'suffix' needs a text prompt", "prompt");
    if (tok.add_bos() && tok.bos() >= 0) tokens.push_back(tok.bos());
    tokens.push_back(ctx.fim_pre);
    const auto a = tok.encode(cr.prompt, false, false);
    tokens.insert(tokens.end(), a.begin(), a.end());
    tokens.push_back(ctx.fim_suf);
    const auto b = tok.encode(*cr.suffix, false, false);
    tokens.insert(tokens.end(), b.begin(), b.end());
    tokens.push_back(ctx.fim_mid);
  } else if (cr.prompt_is_tokens) {
    tokens = cr.prompt_tokens;
  } else {
    tokens = tok.encode(cr.prompt, tok.add_bos(), /*parse_special=*/true);
  }
  auto r = make_request(ctx, std::move(tokens), cr.gen, "prompt");
  auto s = new_session(ctx, r, cr.gen, false, cr.model);
  if (cr.echo && !cr.gen.stream) s->echo = cr.prompt_is_tokens ? tok.decode(cr.prompt_tokens) : cr.prompt;
  submit_or_throw(ctx, r);
  respond(ctx, s, res);
}

}  // namespace qs::server
