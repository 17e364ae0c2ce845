#include "server/request_validation.h"
#include "util/random_id.h"

#include <cmath>
#include <limits>
#include <random>

namespace qs::server {

namespace {

const json* field(const json& body, const char* key) {
  auto it = body.find(key);
  if (it == body.end() || it->is_null()) return nullptr;
  return &*it;
}

double number_in(const json& v, const char* key, double lo, double hi) {
  if (!v.is_number()) throw bad_request(std::string("'") + key + "' must be a number", key, "invalid_type");
  const double x = v.get<double>();
  if (!std::isfinite(x) || x < lo || x > hi)
    throw bad_request(std::string("'") + key + "' must be between " + json(lo).dump() + " and " + json(hi).dump(), key,
                      "invalid_value");
  return x;
}

bool is_integral(const json& v) {
  if (v.is_number_integer()) return true;
  if (!v.is_number_float()) return false;
  const double x = v.get<double>();
  return std::isfinite(x) && std::floor(x) == x;
}

int64_t int_in(const json& v, const char* key, int64_t lo, int64_t hi) {
  if (!is_integral(v)) throw bad_request(std::string("'") + key + "' must be an integer", key, "invalid_type");
  const double x = v.get<double>();
  if (x < static_cast<double>(lo) || x > static_cast<double>(hi))
    throw bad_request(std::string("'") + key + "' must be between " + std::to_string(lo) + " and " + std::to_string(hi), key,
                      "invalid_value");
  return v.is_number_unsigned() ? static_cast<int64_t>(v.get<uint64_t>()) : v.get<int64_t>();
}

bool boolean(const json& v, const char* key) {
  if (!v.is_boolean()) throw bad_request(std::string("'") + key + "' must be a boolean", key, "invalid_type");
  return v.get<bool>();
}

const std::string& string_of(const json& v, const char* key) {
  if (!v.is_string()) throw bad_request(std::string("'") + key + "' must be a string", key, "invalid_type");
  return v.get_ref<const std::string&>();
}

bool valid_function_name(const std::string& s) {
  if (s.empty() || s.size() > 64) return false;
  for (char c : s)
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-')) return false;
  return true;
}

void parse_common(const json& body, const RequestLimits& lim, GenParams& g, bool chat) {
  g.sampling = SamplingParams{};
  g.sampling.temperature = 1.0f;  // OpenAI's default
  g.sampling.top_p = 1.0f;
  g.sampling.repeat_penalty = 1.0f;
  if (auto* v = field(body, "temperature")) g.sampling.temperature = static_cast<float>(number_in(*v, "temperature", 0, 2));
  if (auto* v = field(body, "top_p")) {
    const double p = number_in(*v, "top_p", 0, 1);
    if (p == 0) g.sampling.top_k = 1;  // the smallest possible nucleus: greedy
    else g.sampling.top_p = static_cast<float>(p);
  }
  if (auto* v = field(body, "top_k")) {
    const int64_t k = int_in(*v, "top_k", 0, lim.n_vocab);
    if (!(g.sampling.top_k == 1 && k == 0)) g.sampling.top_k = static_cast<int>(k);
  }
  if (auto* v = field(body, "min_p")) g.sampling.min_p = static_cast<float>(number_in(*v, "min_p", 0, 1));
  if (auto* v = field(body, "presence_penalty"))
    g.sampling.presence_penalty = static_cast<float>(number_in(*v, "presence_penalty", -2, 2));
  if (auto* v = field(body, "frequency_penalty"))
    g.sampling.frequency_penalty = static_cast<float>(number_in(*v, "frequency_penalty", -2, 2));
  for (const char* k : {"repetition_penalty", "repeat_penalty"})
    if (auto* v = field(body, k)) {
      g.sampling.repeat_penalty = static_cast<float>(number_in(*v, k, 0.01, 10));
    }
  if (auto* v = field(body, "seed")) {
    if (!is_integral(*v)) throw bad_request("'seed' must be an integer", "seed", "invalid_type");
    if (v->is_number_unsigned()) g.sampling.seed = v->get<uint64_t>();
    else if (v->is_number_integer()) g.sampling.seed = static_cast<uint64_t>(v->get<int64_t>());
    else {
      const double x = v->get<double>();
      if (std::fabs(x) > 9.2e18) throw bad_request("'seed' is out of range", "seed", "invalid_value");
      g.sampling.seed = static_cast<uint64_t>(static_cast<int64_t>(x));
    }
  } else {
    g.sampling.seed = random_u64();
  }

  const int64_t max_ctx = std::max(1, lim.n_ctx);
  for (const char* k : {"max_tokens", "max_completion_tokens"}) {
    if (auto* v = field(body, k)) {
      if (!is_integral(*v)) throw bad_request(std::string("'") + k + "' must be an integer", k, "invalid_type");
      const double x = v->get<double>();
      if (x < 1) throw bad_request(std::string("'") + k + "' must be at least 1", k, "invalid_value");
      if (x > static_cast<double>(max_ctx))
        throw bad_request(std::string("'") + k + "' is " + json(*v).dump() + ", more than the context size of " +
                              std::to_string(max_ctx) + " tokens",
                          k, "context_length_exceeded");
      g.max_tokens = static_cast<int>(x);  // max_completion_tokens (read last) wins
    }
  }

  if (auto* v = field(body, "stop")) {
    std::vector<std::string> stops;
    if (v->is_string()) stops.push_back(v->get<std::string>());
    else if (v->is_array()) {
      if (v->size() > lim.max_stop)
        throw bad_request("'stop' may hold at most " + std::to_string(lim.max_stop) + " strings", "stop", "invalid_value");
      for (const auto& s : *v) {
        if (!s.is_string()) throw bad_request("'stop' must be a string or an array of strings", "stop", "invalid_type");
        stops.push_back(s.get<std::string>());
      }
    } else {
      throw bad_request("'stop' must be a string or an array of strings", "stop", "invalid_type");
    }
    for (auto& s : stops) {
      if (s.size() > lim.max_stop_len)
        throw bad_request("a stop string is longer than " + std::to_string(lim.max_stop_len) + " bytes", "stop", "invalid_value");
      if (!s.empty()) g.stop.push_back(std::move(s));
    }
  }

  if (auto* v = field(body, "stream")) g.stream = boolean(*v, "stream");
  if (auto* v = field(body, "stream_options")) {
    if (!v->is_object()) throw bad_request("'stream_options' must be an object", "stream_options", "invalid_type");
    if (!g.stream)
      throw bad_request("'stream_options' is only allowed when 'stream' is true", "stream_options", "invalid_value");
    if (auto* u = field(*v, "include_usage")) g.include_usage = boolean(*u, "stream_options.include_usage");
  }

  if (chat) {
    if (auto* v = field(body, "logprobs")) g.logprobs = boolean(*v, "logprobs");
    if (auto* v = field(body, "top_logprobs")) {
      g.top_logprobs = static_cast<int>(int_in(*v, "top_logprobs", 0, 20));
      if (!g.logprobs) throw bad_request("'top_logprobs' requires 'logprobs' to be true", "top_logprobs", "invalid_value");
    }
  } else if (auto* v = field(body, "logprobs")) {
    if (v->is_boolean()) g.logprobs = v->get<bool>();
    else {
      g.top_logprobs = static_cast<int>(int_in(*v, "logprobs", 0, 20));
      g.logprobs = true;
    }
  }

  if (auto* v = field(body, "n")) {
    if (int_in(*v, "n", 1, 128) != 1) throw bad_request("only n = 1 is supported", "n", "invalid_value");
  }
  if (auto* v = field(body, "best_of")) {
    if (int_in(*v, "best_of", 1, 128) != 1) throw bad_request("only best_of = 1 is supported", "best_of", "invalid_value");
  }

  if (auto* v = field(body, "logit_bias")) {
    if (!v->is_object()) throw bad_request("'logit_bias' must be an object", "logit_bias", "invalid_type");
    if (v->size() > lim.max_logit_bias) throw bad_request("'logit_bias' has too many entries", "logit_bias", "invalid_value");
    for (auto it = v->begin(); it != v->end(); ++it) {
      int64_t id = -1;
      const std::string& k = it.key();
      if (k.empty() || k.size() > 10 || k.find_first_not_of("0123456789") != std::string::npos)
        throw bad_request("'logit_bias' keys must be token ids", "logit_bias", "invalid_value");
      id = std::stoll(k);
      if (id >= lim.n_vocab) throw bad_request("'logit_bias' token id " + k + " is outside the vocabulary", "logit_bias", "invalid_value");
      const double b = number_in(it.value(), "logit_bias", -100, 100);
      g.logit_bias.emplace_back(static_cast<int32_t>(id), static_cast<float>(b));
    }
  }
  if (auto* v = field(body, "ignore_eos")) g.ignore_eos = boolean(*v, "ignore_eos");
  if (auto* v = field(body, "model")) (void)string_of(*v, "model");
  if (auto* v = field(body, "user")) (void)string_of(*v, "user");
}

std::string content_text(const json& c, const std::string& where) {
  if (c.is_string()) return c.get<std::string>();
  if (c.is_array()) {
    std::string out;
    bool first = true;
    for (const auto& part : c) {
      if (!part.is_object()) throw bad_request(where + ": content parts must be objects", "messages", "invalid_type");
      auto t = part.find("type");
      if (t == part.end() || !t->is_string()) throw bad_request(where + ": content part without a 'type'", "messages", "invalid_type");
      if (*t != "text")
        throw bad_request(where + ": content part type '" + t->get<std::string>() + "' is not supported (text only)", "messages",
                          "invalid_value");
      auto x = part.find("text");
      if (x == part.end() || !x->is_string()) throw bad_request(where + ": text part without a string 'text'", "messages", "invalid_type");
      if (!first) out += "\n";
      out += x->get<std::string>();
      first = false;
    }
    return out;
  }
  throw bad_request(where + ": 'content' must be a string or an array of text parts", "messages", "invalid_type");
}

json normalise_message(const json& m, size_t i, bool is_last, ChatRequest& r) {
  const std::string where = "messages[" + std::to_string(i) + "]";
  if (!m.is_object()) throw bad_request(where + " must be an object", "messages", "invalid_type");
  auto rit = m.find("role");
  if (rit == m.end() || !rit->is_string()) throw bad_request(where + " needs a string 'role'", "messages", "invalid_value");
  std::string role = rit->get<std::string>();
  if (role == "developer") role = "system";
  if (role != "system" && role != "user" && role != "assistant" && role != "tool")
    throw bad_request(where + ": unknown role '" + role + "' (system, user, assistant, tool)", "messages", "invalid_value");
  json out = json::object();
  out["role"] = role;
  auto cit = m.find("content");
  const bool has_content = cit != m.end() && !cit->is_null();
  if (auto* n = field(m, "name")) out["name"] = string_of(*n, "name");

  if (role == "assistant") {
    json calls = json::array();
    if (auto* tc = field(m, "tool_calls")) {
      if (!tc->is_array()) throw bad_request(where + ": 'tool_calls' must be an array", "messages", "invalid_type");
      for (const auto& c : *tc) {
        if (!c.is_object()) throw bad_request(where + ": tool calls must be objects", "messages", "invalid_type");
        auto f = c.find("function");
        if (f == c.end() || !f->is_object()) throw bad_request(where + ": tool call without 'function'", "messages", "invalid_value");
        auto nm = f->find("name");
        if (nm == f->end() || !nm->is_string()) throw bad_request(where + ": tool call without a function name", "messages", "invalid_value");
        std::string args = "{}";
        auto a = f->find("arguments");
        if (a != f->end() && !a->is_null()) args = a->is_string() ? a->get<std::string>() : dump_json(*a);
        json call = json::object();
        call["id"] = (c.contains("id") && c["id"].is_string()) ? c["id"].get<std::string>() : std::string("call_") + std::to_string(i);
        call["type"] = "function";
        call["function"] = json{{"name", nm->get<std::string>()}, {"arguments", args}};
        calls.push_back(std::move(call));
      }
    }
    if (auto* p = field(m, "prefix")) {
      if (boolean(*p, "prefix")) {
        if (!is_last) throw bad_request(where + ": only the last message may have 'prefix': true", "messages", "invalid_value");
        r.prefix_completion = true;
      }
    }
    if (auto* rc = field(m, "reasoning_content")) (void)string_of(*rc, "reasoning_content");  // dropped (DeepSeek R1 rule)
    if (has_content) out["content"] = content_text(*cit, where);
    else if (!calls.empty()) out["content"] = nullptr;
    else out["content"] = "";
    if (!calls.empty()) out["tool_calls"] = std::move(calls);
    if (r.prefix_completion && is_last) r.assistant_prefix = out["content"].is_string() ? out["content"].get<std::string>() : "";
    return out;
  }
  if (!has_content) throw bad_request(where + " (" + role + ") needs 'content'", "messages", "invalid_value");
  out["content"] = content_text(*cit, where);
  if (role == "tool") {
    if (auto* id = field(m, "tool_call_id")) out["tool_call_id"] = string_of(*id, "tool_call_id");
  }
  return out;
}

}  // namespace

ChatRequest parse_chat_request(const json& body, const RequestLimits& lim) {
  if (!body.is_object()) throw bad_request("the request body must be a JSON object");
  ChatRequest r;
  if (auto* v = field(body, "model")) r.model = string_of(*v, "model");
  parse_common(body, lim, r.gen, /*chat=*/true);

  auto* msgs = field(body, "messages");
  if (!msgs) throw bad_request("'messages' is required", "messages", "missing_required_parameter");
  if (!msgs->is_array()) throw bad_request("'messages' must be an array", "messages", "invalid_type");
  if (msgs->empty()) throw bad_request("'messages' must not be empty", "messages", "invalid_value");
  if (msgs->size() > lim.max_messages)
    throw bad_request("'messages' may hold at most " + std::to_string(lim.max_messages) + " messages", "messages", "invalid_value");
  for (size_t i = 0; i < msgs->size(); ++i) r.messages.push_back(normalise_message((*msgs)[i], i, i + 1 == msgs->size(), r));
  if (r.prefix_completion) r.messages.erase(r.messages.size() - 1);
  if (r.messages.empty()) throw bad_request("'messages' needs a message before the assistant prefix", "messages", "invalid_value");

  if (auto* k = field(body, "chat_template_kwargs")) {
    // Extra template variables, as vLLM / SGLang / llama-server take them ({"thinking": true}). Bounded,
    // named like template variables, and never the ones the server itself sets.
    if (!k->is_object()) throw bad_request("'chat_template_kwargs' must be an object", "chat_template_kwargs", "invalid_type");
    if (k->size() > 32) throw bad_request("'chat_template_kwargs' may hold at most 32 variables", "chat_template_kwargs", "invalid_value");
    for (const auto& [name, value] : k->items()) {
      bool ok = !name.empty() && name.size() <= 64 && !(name[0] >= '0' && name[0] <= '9');
      for (char c : name) ok = ok && ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_');
      if (!ok) throw bad_request("'chat_template_kwargs' names must be identifiers ([A-Za-z_][A-Za-z0-9_]{0,63})", "chat_template_kwargs", "invalid_value");
      if (name == "messages" || name == "tools" || name == "add_generation_prompt" || name == "bos_token" || name == "eos_token")
        throw bad_request("'chat_template_kwargs' may not set '" + name + "'", "chat_template_kwargs", "invalid_value");
    }
    if (k->dump().size() > 16384) throw bad_request("'chat_template_kwargs' is larger than 16 KiB", "chat_template_kwargs", "invalid_value");
    r.template_kwargs = *k;
  }

  std::vector<std::string> names;
  if (auto* t = field(body, "tools")) {
    if (!t->is_array()) throw bad_request("'tools' must be an array", "tools", "invalid_type");
    if (t->size() > lim.max_tools) throw bad_request("'tools' may hold at most " + std::to_string(lim.max_tools) + " tools", "tools", "invalid_value");
    for (const auto& tool : *t) {
      if (!tool.is_object()) throw bad_request("each tool must be an object", "tools", "invalid_type");
      auto ty = tool.find("type");
      if (ty == tool.end() || *ty != "function") throw bad_request("tool 'type' must be \"function\"", "tools", "invalid_value");
      auto f = tool.find("function");
      if (f == tool.end() || !f->is_object()) throw bad_request("tool without a 'function' object", "tools", "invalid_value");
      auto nm = f->find("name");
      if (nm == f->end() || !nm->is_string() || !valid_function_name(nm->get<std::string>()))
        throw bad_request("tool function names must match [a-zA-Z0-9_-]{1,64}", "tools", "invalid_value");
      if (auto d = f->find("description"); d != f->end() && !d->is_null() && !d->is_string())
        throw bad_request("tool 'description' must be a string", "tools", "invalid_type");
      if (auto p = f->find("parameters"); p != f->end() && !p->is_null() && !p->is_object())
        throw bad_request("tool 'parameters' must be a JSON Schema object", "tools", "invalid_type");
      if (auto s = f->find("strict"); s != f->end() && !s->is_null() && !s->is_boolean())
        throw bad_request("tool 'strict' must be a boolean", "tools", "invalid_type");
      names.push_back(nm->get<std::string>());
    }
    if (!t->empty()) r.tools = *t;
  }
  r.tool_choice = names.empty() ? "none" : "auto";
  if (auto* tc = field(body, "tool_choice")) {
    if (tc->is_string()) {
      const std::string s = tc->get<std::string>();
      if (s != "none" && s != "auto" && s != "required")
        throw bad_request("'tool_choice' must be none, auto, required or a function", "tool_choice", "invalid_value");
      r.tool_choice = s;
    } else if (tc->is_object()) {
      auto f = tc->find("function");
      if (f == tc->end() || !f->is_object() || !f->contains("name") || !(*f)["name"].is_string())
        throw bad_request("'tool_choice' object needs function.name", "tool_choice", "invalid_value");
      r.tool_choice = "function";
      r.tool_choice_name = (*f)["name"].get<std::string>();
      if (std::find(names.begin(), names.end(), r.tool_choice_name) == names.end())
        throw bad_request("'tool_choice' names a function that is not in 'tools'", "tool_choice", "invalid_value");
    } else {
      throw bad_request("'tool_choice' must be a string or an object", "tool_choice", "invalid_type");
    }
    if (names.empty() && r.tool_choice != "none")
      throw bad_request("'tool_choice' needs 'tools'", "tool_choice", "invalid_value");
  }
  if (auto* v = field(body, "parallel_tool_calls")) (void)boolean(*v, "parallel_tool_calls");

  if (auto* rf = field(body, "response_format")) {
    if (!rf->is_object()) throw bad_request("'response_format' must be an object", "response_format", "invalid_type");
    auto ty = rf->find("type");
    if (ty == rf->end() || !ty->is_string()) throw bad_request("'response_format' needs a 'type'", "response_format", "invalid_value");
    const std::string s = ty->get<std::string>();
    if (s != "text" && s != "json_object" && s != "json_schema")
      throw bad_request("'response_format.type' must be text, json_object or json_schema", "response_format", "invalid_value");
    r.response_format = s;
    if (s == "json_schema") {
      auto js = rf->find("json_schema");
      if (js == rf->end() || !js->is_object()) throw bad_request("'response_format.json_schema' must be an object", "response_format", "invalid_value");
      if (auto sc = js->find("schema"); sc != js->end()) {
        if (!sc->is_object()) throw bad_request("'response_format.json_schema.schema' must be an object", "response_format", "invalid_type");
        r.json_schema = *sc;
      }
    }
  }
  return r;
}

CompletionRequest parse_completion_request(const json& body, const RequestLimits& lim) {
  if (!body.is_object()) throw bad_request("the request body must be a JSON object");
  CompletionRequest r;
  if (auto* v = field(body, "model")) r.model = string_of(*v, "model");
  parse_common(body, lim, r.gen, /*chat=*/false);
  auto* p = field(body, "prompt");
  if (!p) throw bad_request("'prompt' is required", "prompt", "missing_required_parameter");
  auto token_list = [&](const json& a) {
    std::vector<int32_t> ids;
    for (const auto& x : a) ids.push_back(static_cast<int32_t>(int_in(x, "prompt", 0, lim.n_vocab - 1)));
    return ids;
  };
  if (p->is_string()) r.prompt = p->get<std::string>();
  else if (p->is_array()) {
    if (p->empty()) throw bad_request("'prompt' must not be empty", "prompt", "invalid_value");
    if ((*p)[0].is_string()) {
      if (p->size() != 1) throw bad_request("only one prompt per request is supported", "prompt", "invalid_value");
      r.prompt = (*p)[0].get<std::string>();
    } else if ((*p)[0].is_array()) {
      if (p->size() != 1) throw bad_request("only one prompt per request is supported", "prompt", "invalid_value");
      r.prompt_tokens = token_list((*p)[0]);
      r.prompt_is_tokens = true;
    } else {
      r.prompt_tokens = token_list(*p);
      r.prompt_is_tokens = true;
    }
    if (r.prompt_is_tokens && r.prompt_tokens.empty()) throw bad_request("'prompt' must not be empty", "prompt", "invalid_value");
  } else {
    throw bad_request("'prompt' must be a string, an array of one string, or token ids", "prompt", "invalid_type");
  }
  if (auto* s = field(body, "suffix")) r.suffix = string_of(*s, "suffix");
  if (auto* e = field(body, "echo")) r.echo = boolean(*e, "echo");
  return r;
}

TokenizeRequest parse_tokenize_request(const json& body) {
  if (!body.is_object()) throw bad_request("the request body must be a JSON object");
  TokenizeRequest r;
  const json* c = field(body, "content");
  if (!c) c = field(body, "prompt");
  if (!c) throw bad_request("'content' is required", "content", "missing_required_parameter");
  r.content = string_of(*c, "content");
  if (auto* v = field(body, "add_special")) r.add_special = boolean(*v, "add_special");
  if (auto* v = field(body, "parse_special")) r.parse_special = boolean(*v, "parse_special");
  if (auto* v = field(body, "with_pieces")) r.with_pieces = boolean(*v, "with_pieces");
  return r;
}

std::vector<int32_t> parse_detokenize_request(const json& body, int n_vocab) {
  if (!body.is_object()) throw bad_request("the request body must be a JSON object");
  auto* t = field(body, "tokens");
  if (!t) throw bad_request("'tokens' is required", "tokens", "missing_required_parameter");
  if (!t->is_array()) throw bad_request("'tokens' must be an array of token ids", "tokens", "invalid_type");
  std::vector<int32_t> ids;
  ids.reserve(t->size());
  for (const auto& x : *t) ids.push_back(static_cast<int32_t>(int_in(x, "tokens", 0, n_vocab - 1)));
  return ids;
}

json parse_request_json(std::string_view body) {
  if (body.empty()) throw bad_request("the request body is empty; a JSON object is expected");
  // Nesting depth outside strings, in one pass before parsing.
  int depth = 0;
  bool in_string = false;
  for (size_t i = 0; i < body.size(); ++i) {
    const char c = body[i];
    if (in_string) {
      if (c == '\\') ++i;
      else if (c == '"') in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > kMaxJsonDepth)
        throw bad_request("the request body is nested deeper than " + std::to_string(kMaxJsonDepth) + " levels");
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
  json j = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) throw bad_request("the request body is not valid JSON");
  return j;
}

}  // namespace qs::server
