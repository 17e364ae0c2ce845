// qiusuo info -m MODEL: what a model file is, and what running it costs.
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <string>

#include "cli/cli_util.h"
#include "cli/commands.h"
#include "model/model.h"

namespace qs::cli {

namespace {

// What an unused tensor is: a multi-token-prediction layer's (blk.N past the model's layers, or
// blk.N.nextn.*), a vision tower's, or something else.
std::string unused_kind(const std::string& name, int n_layer) {
  if (name.find(".nextn.") != std::string::npos) return "multi-token prediction";
  if (name.rfind("blk.", 0) == 0 && std::atoi(name.c_str() + 4) >= n_layer) return "multi-token prediction";
  if (name.rfind("v.", 0) == 0 || name.rfind("mm.", 0) == 0) return "vision";
  return "other";
}

// Tensors the forward pass does not read, by kind; the unexpected ones by name.
void print_unused(const GgufFile& f, const std::vector<std::string>& unused, int n_layer) {
  if (unused.empty()) return;
  std::map<std::string, std::pair<int, uint64_t>> kinds;
  for (const auto& name : unused) {
    const std::string kind = unused_kind(name, n_layer);
    auto& e = kinds[kind];
    e.first++;
    e.second += f.find_tensor(name)->nbytes;
  }
  std::printf("not used:       ");
  for (const auto& [kind, e] : kinds) std::printf(" %s x%d (%.1f MiB)", kind.c_str(), e.first, e.second / 1048576.0);
  std::printf("\n");
  int shown = 0;
  for (const auto& name : unused)
    if (unused_kind(name, n_layer) == "other" && shown++ < 8) std::printf("                 %s\n", name.c_str());
}

void run_info(const std::string& path, int n_ctx, GgmlType cache_type) {
  // info describes any file, even one too large to run here: no repacking, no memory refusal.
  LoadOptions opt;
  opt.repack = LoadOptions::Repack::Off;
  opt.check_memory = false;
  auto m = Model::load(path, opt);
  const ModelConfig& c = m->config();
  const auto& f = m->file();
  const auto shards = f.shards();
  if (shards.size() == 1) {
    std::printf("file:            %s (GGUF v%u, %.1f MiB)\n", path.c_str(), f.version(), f.file_size() / 1048576.0);
  } else {
    std::printf("files:           split set of %zu (GGUF v%u, %.1f MiB in all)\n", shards.size(), f.version(),
                f.file_size() / 1048576.0);
    for (const auto& sh : shards)
      std::printf("                 %s (%.1f MiB, %zu tensors)\n", sh.path.c_str(), sh.size / 1048576.0, sh.n_tensors);
  }
  if (!c.name.empty()) std::printf("name:            %s\n", c.name.c_str());
  std::printf("architecture:    %s\n", arch_name(c.arch));
  std::printf("layers:          %d", c.n_layer);
  if (c.n_nextn > 0) std::printf(" (+%d multi-token-prediction, not run)", c.n_nextn);
  std::printf("\n");
  std::printf("embedding:       %d\n", c.n_embd);
  std::printf("heads:           %d (kv %d), head dims k %d v %d\n", c.n_head, c.n_head_kv, c.head_dim_k, c.head_dim_v);
  std::printf("vocab:           %d\n", c.n_vocab);
  std::printf("context (train): %d\n", c.n_ctx_train);
  std::printf("rope:            %s pairs, %d dims, base %g", c.rope_style == RopeStyle::Adjacent ? "adjacent" : "neox",
              c.n_rot, c.rope_base);
  if (c.rope_scaling == RopeScaling::Yarn) std::printf(", yarn x%g over %d", c.rope_factor, c.rope_orig_ctx);
  std::printf("\n");
  if (c.is_mla()) {
    std::printf("mla:             q_lora %d, kv_lora %d, qk_nope %d, qk_rope %d, v %d, layout %s, scale %.7f\n",
                c.q_lora_rank, c.kv_lora_rank, c.qk_nope, c.qk_rope, c.head_dim_v,
                m->weights().layers[0].mla_layout == MlaLayout::KvB ? "attn_kv_b" : "attn_k_b/attn_v_b", c.attn_scale());
  }
  if (c.has_indexer())
    std::printf("dsa:             indexer %d heads x %d, top_k %d (sparse attention past %d tokens)\n", c.idx_n_head,
                c.idx_head_dim, c.idx_top_k, c.idx_top_k);
  if (c.n_expert > 0) {
    std::printf("moe:             %d experts, %d used, %d shared, width %d, %d leading dense (width %d), %s gating",
                c.n_expert, c.n_expert_used, c.n_expert_shared, c.n_ff_exp, c.n_leading_dense, c.n_ff,
                c.gating == Gating::Sigmoid ? "sigmoid" : "softmax");
    if (c.n_expert_groups > 1) std::printf(", groups %d/%d", c.n_expert_groups_used, c.n_expert_groups);
    std::printf(", scale %g%s\n", c.expert_weights_scale, c.expert_weights_norm ? ", normalised" : "");
  } else {
    std::printf("ffn:             %d\n", c.n_ff);
  }
  std::map<std::string, std::pair<int, uint64_t>> types;
  for (const auto& t : f.tensors()) {
    auto& e = types[std::string(traits(t.type).name)];
    e.first++;
    e.second += t.nbytes;
  }
  std::printf("tensor types:   ");
  for (const auto& [name, e] : types) std::printf(" %s x%d (%.1f MiB)", name.c_str(), e.first, e.second / 1048576.0);
  std::printf("\n");
  print_unused(f, m->weights().unused, c.n_layer);
  const double params = static_cast<double>(m->parameter_count());
  std::printf("parameters:      %.0f (%.3f B)\n", params, params / 1e9);
  const KvCache probe(c, 1, cache_type);
  const uint64_t kv_per_token = probe.bytes_per_token();
  std::printf("kv per token:    %llu bytes (%d values x %d layers, %s: %zu bytes per token per layer)\n",
              static_cast<unsigned long long>(kv_per_token), c.kv_values_per_token_layer(), c.n_layer,
              std::string(traits(cache_type).name).c_str(), probe.bytes_per_token_layer());
  if (c.has_indexer())
    std::printf("                 (incl. the indexer key: %d values in %s)\n", c.idx_head_dim,
                std::string(traits(probe.index_type()).name).c_str());
  const double resident = static_cast<double>(m->weight_bytes()) + static_cast<double>(kv_per_token) * n_ctx;
  std::printf("resident memory: %.1f MiB (weights %.1f MiB + kv for %d tokens)\n", resident / 1048576.0,
              m->weight_bytes() / 1048576.0, n_ctx);
  const MemoryLimit lim = memory_limit();
  if (lim.bytes > 0)
    std::printf("memory limit:    %s (%s)%s\n", format_bytes(lim.bytes).c_str(), lim.source.c_str(),
                resident > static_cast<double>(lim.bytes) ? ": does NOT fit; loading will be refused without --no-mem-check"
                                                          : "");
}

}  // namespace

void register_info(CLI::App& app) {
  auto* cmd = app.add_subcommand("info", "Describe a model: architecture, dimensions, tensor types, memory");
  static std::string model;
  static int n_ctx = 4096;
  static std::string cache_type = "f16";
  add_model_option(cmd, model);
  cmd->add_option("-c,--ctx-size", n_ctx, "context size for the memory estimate")->check(CLI::Range(1, 1 << 24));
  cmd->add_option("--cache-type", cache_type, "KV cache type for the estimate: f16, bf16, q8_0, f32");
  cmd->callback([] { run_info(resolve_model_arg(model), n_ctx, parse_cache_type(cache_type)); });
}

}  // namespace qs::cli
