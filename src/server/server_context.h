// What the HTTP handlers share: options, the loaded model and its tokenizer/template, the
// scheduler, metrics and the server's life-cycle state.
#pragma once
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "chat/chat_template.h"
#include "chat/prompt.h"
#include "model/model.h"
#include "engine/metrics.h"
#include "server/request_validation.h"
#include "engine/scheduler.h"
#include "tokenizer/tokenizer.h"

namespace qs::server {

struct ServerOptions {
  std::string model_path;
  std::string host = "127.0.0.1";
  int port = 8080;                  // 0: an ephemeral port
  std::vector<std::string> api_keys;  // empty: no authentication
  int parallel = 4;
  int ctx_size = 4096;              // per slot
  int max_queue = 64;
  size_t cache_mib = 1024;          // prefix cache store
  int threads = 0;                  // compute threads (0: default)
  size_t max_body_bytes = 8u << 20;
  int timeout_s = 600;              // per request, arrival to last token
  int ping_interval_s = 10;         // SSE comment pings while nothing else is sent
  int http_threads = 0;             // 0: parallel + max_queue + 16
  int request_read_timeout_s = 20;  // a request's line, headers and body must arrive within this
  int step_tokens = 512;            // tokens per forward pass
  std::string alias;                // model id reported (default: file name)
  std::string chat_template_file;   // overrides the GGUF's template
  std::string reasoning = "auto";
  std::function<void(size_t done, size_t total)> on_load_progress;  // while the weights are rearranged   // on | off | auto: `thinking` for templates with the switch, unless a request says
  std::string cache_type = "f16";
  bool quiet = false;
};

enum class ServerState { Loading = 0, Ready = 1, Draining = 2, Failed = 3 };

struct ServerContext {
  ServerOptions opt;
  std::unique_ptr<Model> model;
  std::unique_ptr<Tokenizer> tok;
  std::unique_ptr<ChatTemplate> tmpl;  // null: the model has none (chat endpoint answers 400)
  std::unique_ptr<PromptBuilder> prompt;  // with tmpl
  std::unordered_map<std::string, int32_t> special_ids;  // control / user-defined tokens by text
  int32_t fim_pre = -1, fim_suf = -1, fim_mid = -1;
  std::unique_ptr<Scheduler> sched;
  Metrics metrics;
  std::atomic<ServerState> state{ServerState::Loading};
  std::string load_error;
  std::string model_id;
  int64_t created = 0;
  RequestLimits limits;
  int port = 0;
  bool loopback = true;
  std::atomic<int> open_responses{0};  // generation responses still being written

  bool has_fim() const { return fim_pre >= 0 && fim_suf >= 0 && fim_mid >= 0; }
};

// Loads the model, tokenizer and template into ctx and starts the scheduler. Throws.
void load_model_into(ServerContext& ctx);
// Same for an already loaded model (tests).
void attach_model(ServerContext& ctx, std::unique_ptr<Model> model);

}  // namespace qs::server
