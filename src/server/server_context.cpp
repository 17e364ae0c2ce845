#include "server/server_context.h"

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <stdexcept>

#include "model/kv_cache.h"
#include "model/memory_budget.h"
#include "util/file_io.h"

namespace qs::server {

namespace {


}  // namespace

void attach_model(ServerContext& ctx, std::unique_ptr<Model> model) {
  if (!model->file().find("tokenizer.ggml.tokens")) throw std::runtime_error("the model carries no tokenizer");
  model->set_cache_type(kv_cache_type_from_name(ctx.opt.cache_type));
  ctx.tok = std::make_unique<Tokenizer>(Tokenizer::from_gguf(model->file()));
  const Tokenizer& tok = *ctx.tok;
  for (int32_t id = 0; id < tok.size(); ++id) {
    const TokenType t = tok.vocab().type(id);
    if (t == TokenType::Control || t == TokenType::UserDefined) ctx.special_ids.emplace(tok.vocab().token(id), id);
  }
  auto id_of = [&](std::initializer_list<const char*> names) {
    for (const char* n : names)
      if (auto it = ctx.special_ids.find(n); it != ctx.special_ids.end()) return it->second;
    return -1;
  };
  ctx.fim_pre = id_of({"<｜fim▁begin｜>", "<|fim_prefix|>", "<fim_prefix>"});
  ctx.fim_suf = id_of({"<｜fim▁hole｜>", "<|fim_suffix|>", "<fim_suffix>"});
  ctx.fim_mid = id_of({"<｜fim▁end｜>", "<|fim_middle|>", "<fim_middle>"});

  std::string tmpl_src;
  if (!ctx.opt.chat_template_file.empty()) tmpl_src = read_file(ctx.opt.chat_template_file);
  else if (auto s = model->file().get_string("tokenizer.chat_template")) tmpl_src = *s;
  if (!tmpl_src.empty()) {
    // The template must render a one-message conversation within the template limits. One given with
    // --chat-template-file that does not is an error; the model's own (untrusted file data) is dropped
    // with a warning and the chat endpoint answers 400 until one is given.
    const bool from_file = !ctx.opt.chat_template_file.empty();
    std::string problem;
    try {
      ctx.tmpl = std::make_unique<ChatTemplate>(tmpl_src);
      ctx.prompt = std::make_unique<PromptBuilder>(tok, *ctx.tmpl);
      problem = ctx.prompt->probe_error();
    } catch (const std::exception& e) {
      problem = e.what();
    }
    if (!problem.empty()) {
      ctx.prompt.reset();
      ctx.tmpl.reset();
      if (from_file) throw std::runtime_error("--chat-template-file " + ctx.opt.chat_template_file + ": " + problem);
      std::fprintf(stderr, "serve: warning: the model's chat template is not usable (%s); /v1/chat/completions is "
                           "unavailable unless --chat-template-file gives one\n", problem.c_str());
    }
  }

  if (ctx.opt.ctx_size <= 0) ctx.opt.ctx_size = std::min(model->config().n_ctx_train > 0 ? model->config().n_ctx_train : 4096, 4096);
  // Every slot's KV cache and the prefix store are allocated or may fill up: check them all up front.
  require_memory(model->memory_need(ctx.opt.parallel, ctx.opt.ctx_size)
                     .add("prefix cache (--cache-mib)", static_cast<uint64_t>(ctx.opt.cache_mib) << 20),
                 model->file().path());
  ctx.limits.n_vocab = model->n_vocab();
  ctx.limits.n_ctx = ctx.opt.ctx_size;
  if (!ctx.opt.alias.empty()) ctx.model_id = ctx.opt.alias;
  else {
    std::string stem = std::filesystem::path(model->file().path()).filename().string();
    // A split set is named after the set, not its first shard (NAME-00001-of-00009.gguf).
    if (const auto shard = parse_shard_name(stem); shard && model->file().shards().size() > 1)
      stem = std::filesystem::path(shard->prefix).filename().string() + ".gguf";
    if (stem.size() > 5 && stem.substr(stem.size() - 5) == ".gguf") stem.resize(stem.size() - 5);
    ctx.model_id = stem.empty() ? "qiusuo" : stem;
  }
  ctx.created = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
  ctx.model = std::move(model);
  SchedulerOptions so;
  so.parallel = ctx.opt.parallel;
  so.n_ctx = ctx.opt.ctx_size;
  so.max_queue = ctx.opt.max_queue;
  so.cache_bytes = ctx.opt.cache_mib << 20;
  so.step_tokens = ctx.opt.step_tokens;
  ctx.sched = std::make_unique<Scheduler>(*ctx.model, *ctx.tok, so, ctx.metrics);
}

void load_model_into(ServerContext& ctx) {
  LoadOptions lo;
  lo.on_progress = ctx.opt.on_load_progress;
  attach_model(ctx, Model::load(ctx.opt.model_path, lo));
}

}  // namespace qs::server
