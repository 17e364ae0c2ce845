#include "model/model.h"

#include <algorithm>
#include <cstdlib>
#include <stdexcept>

#include "kernels/matmul.h"
#include "kernels/ops.h"
#include "kernels/qdot.h"
#include "kernels/cpu_features.h"
#include "kernels/weight_store.h"
#include "kernels/thread_pool.h"
#include "model/moe.h"
#include "tensor/quants.h"

namespace qs {

std::unique_ptr<Model> Model::load(const std::string& path, const LoadOptions& opt) {
  return from_file(GgufFile::open(path), opt);
}

Model::~Model() = default;

// Weights go where the kernel plan wants them (kernels/plan.h): repacked into grouped layouts, copied to
// huge pages, or (MLA's per-head up-projections without a float-activation kernel) widened to F16 —
// when the copy fits comfortably in available RAM; otherwise they stay mmapped in the file's layout.
void Model::repack_weights(const LoadOptions& opt) {
  if (opt.repack == LoadOptions::Repack::Off) return;
  if (const char* env = std::getenv("QIUSUO_REPACK"); env && std::string(env) == "0") return;
  auto store = std::make_unique<WeightStore>();
  for (LayerWeights& L : weights_.layers) {
    for (MatView* m : {&L.wq, &L.wq_a, &L.wq_b, &L.wkv_a, &L.wo, &L.wk, &L.wv, &L.ffn_gate, &L.ffn_up, &L.ffn_down,
                       &L.gate_shexp, &L.up_shexp, &L.down_shexp, &L.gate_exps.all, &L.up_exps.all, &L.down_exps.all})
      store->add(m, WeightUse::Product);
    // MLA's up-projections and the DSA indexer's products take float activations (plan.h).
    for (MatView* m : {&L.wkv_b, &L.wk_b, &L.wv_b, &L.idx_wq_b, &L.idx_wk, &L.idx_proj}) store->add(m, WeightUse::PerHeadFloat);
  }
  if (!weights_.output_tied) store->add(&weights_.output, WeightUse::Product);
  const size_t limit = opt.repack == LoadOptions::Repack::Auto ? meminfo_bytes("MemAvailable:") / 2 : SIZE_MAX;
  if (store->commit(limit, opt.on_progress)) store_ = std::move(store);
}

std::unique_ptr<Model> Model::from_file(std::unique_ptr<GgufFile> f, const LoadOptions& opt) {
  std::unique_ptr<Model> m(new Model());
  try {
    m->config_ = load_config(*f);
    m->weights_ = bind_weights(*f, m->config_);
    m->config_.n_vocab = static_cast<int>(m->weights_.tok_embd.rows);
    m->rope_ = std::make_unique<Rope>(m->config_, m->weights_.rope_freqs);
  } catch (const GgufError&) {
    throw;
  } catch (const std::bad_alloc&) {
    throw;
  } catch (const std::exception& e) {  // a check below the file layer: still say which file
    throw GgufError(f->path() + ": " + e.what());
  }
  m->file_ = std::move(f);
  // Mapped weights can page from disk, but every token reads most of them: running a model
  // larger than RAM means reading the file again for every token, so it is refused by default.
  if (opt.check_memory) require_memory(MemoryNeed().add("weights", m->weight_bytes()), m->file_->path());
  m->repack_weights(opt);
  return m;
}

std::unique_ptr<Sequence> Model::new_sequence(int n_ctx) const {
  if (n_ctx <= 0) n_ctx = std::min(config_.n_ctx_train > 0 ? config_.n_ctx_train : 4096, 4096);
  require_memory(memory_need(1, n_ctx), file_->path());
  return std::make_unique<Sequence>(config_, n_ctx, cache_type_);
}

uint64_t Model::kv_bytes_per_token() const { return KvCache::bytes_per_token(config_, cache_type_); }

MemoryNeed Model::memory_need(int n_seq, int n_ctx) const {
  MemoryNeed need;
  need.add("weights", weight_bytes());
  const uint64_t seqs = static_cast<uint64_t>(std::max(n_seq, 0)), ctx = static_cast<uint64_t>(std::max(n_ctx, 0));
  need.add("KV cache (" + std::to_string(seqs) + " × " + std::to_string(ctx) + " tokens)", seqs * ctx * kv_bytes_per_token());
  return need;
}

void Model::set_cache_type(GgmlType t) {
  if (!KvCache::supported(t, config_))
    throw std::invalid_argument("KV cache type " + std::string(traits(t).name) + " is not supported for this model");
  cache_type_ = t;
}

uint64_t Model::parameter_count() const {
  uint64_t n = 0;
  for (const auto& t : file_->tensors()) n += static_cast<uint64_t>(t.n_elements());
  return n;
}

uint64_t Model::repacked_bytes() const { return store_ ? store_->bytes() : 0; }

uint64_t Model::weight_bytes() const {
  uint64_t n = 0;
  for (const auto& t : file_->tensors()) n += t.nbytes;
  return n;
}

uint64_t Model::active_bytes_per_token() const {
  double n = 0;
  for (const auto& t : file_->tensors()) {
    if (t.name == "token_embd.weight" && !weights_.output_tied) n += static_cast<double>(weights_.tok_embd.row_stride);
    else if (t.name.find("_exps.") != std::string::npos && config_.n_expert > 0)
      n += static_cast<double>(t.nbytes) * config_.n_expert_used / config_.n_expert;
    else n += static_cast<double>(t.nbytes);
  }
  return static_cast<uint64_t>(n);
}

void Model::forward(Sequence& seq, const int32_t* tokens, int n, float* logits, bool all_logits) const {
  if (n > 0 && seq.n_past + static_cast<int64_t>(n) > seq.cache.capacity())
    throw std::out_of_range("context full: " + std::to_string(seq.n_past) + " + " + std::to_string(n) +
                            " tokens exceed the context of " + std::to_string(seq.cache.capacity()));
  // Chunked: the same results as one pass (tested), with scratch bounded by kMaxBatchTokens.
  for (int t0 = 0; t0 < n; t0 += kMaxBatchTokens) {
    const int m = std::min(kMaxBatchTokens, n - t0);
    std::vector<BatchToken> batch(static_cast<size_t>(m));
    for (int t = 0; t < m; ++t)
      batch[t] = {&seq, tokens[t0 + t], logits != nullptr && (all_logits || t0 + t == n - 1)};
    float* out = logits == nullptr ? nullptr : all_logits ? logits + static_cast<size_t>(t0) * config_.n_vocab : logits;
    forward_batch(batch, out);
  }
}

void Model::forward_batch(const std::vector<BatchToken>& batch, float* logits) const {
  const ModelConfig& c = config_;
  const int n = static_cast<int>(batch.size());
  if (n == 0) return;
  // Scratch grows with the batch (activations, MoE routing, attention); callers chunk (forward() and
  // the server's --batch-tokens), and this bound keeps a mistaken caller from allocating without limit.
  if (n > 8 * kMaxBatchTokens)
    throw std::invalid_argument("a forward pass takes at most " + std::to_string(8 * kMaxBatchTokens) + " tokens, got " +
                                std::to_string(n));

  // Split the batch into one span per sequence, checking everything before any state changes.
  std::vector<SeqSpan> spans;
  std::vector<Sequence*> seen;
  for (int t = 0; t < n; ++t) {
    const BatchToken& b = batch[t];
    if (!b.seq) throw std::invalid_argument("batch entry without a sequence");
    if (b.token < 0 || b.token >= c.n_vocab)
      throw std::out_of_range("token id " + std::to_string(b.token) + " outside the vocabulary [0, " +
                              std::to_string(c.n_vocab) + ")");
    if (spans.empty() || spans.back().cache != &b.seq->cache) {
      if (std::find(seen.begin(), seen.end(), b.seq) != seen.end())
        throw std::invalid_argument("a sequence's tokens must be consecutive in the batch");
      seen.push_back(b.seq);
      spans.push_back({&b.seq->cache, b.seq->n_past, t, 0});
    }
    spans.back().count++;
  }
  for (size_t k = 0; k < spans.size(); ++k)
    if (spans[k].pos0 + spans[k].count > spans[k].cache->capacity())
      throw std::out_of_range("context full: " + std::to_string(spans[k].pos0) + " + " + std::to_string(spans[k].count) +
                              " tokens exceed the context of " + std::to_string(spans[k].cache->capacity()));

  const int d = c.n_embd;
  std::vector<float> X(static_cast<size_t>(n) * d), Xn(X.size()), Y(X.size());
  for (int t = 0; t < n; ++t)
    dequantize_row(weights_.tok_embd.type, weights_.tok_embd.row(batch[t].token), &X[static_cast<size_t>(t) * d], d);

  for (int il = 0; il < c.n_layer; ++il) {
    const LayerWeights& L = weights_.layers[il];
    for (int t = 0; t < n; ++t) rms_norm(&X[static_cast<size_t>(t) * d], L.attn_norm.data(), &Xn[static_cast<size_t>(t) * d], d, c.rms_eps);
    if (c.is_mla()) mla_attention(c, L, *rope_, spans, il, Xn.data(), n, Y.data(), mla_mode_);
    else gqa_attention(c, L, *rope_, spans, il, Xn.data(), n, Y.data());
    axpy_f32(1.f, Y.data(), X.data(), static_cast<int64_t>(X.size()));

    for (int t = 0; t < n; ++t) rms_norm(&X[static_cast<size_t>(t) * d], L.ffn_norm.data(), &Xn[static_cast<size_t>(t) * d], d, c.rms_eps);
    if (c.is_moe_layer(il)) moe_ffn(c, L, Xn.data(), n, Y.data());
    else dense_ffn(L.ffn_gate, L.ffn_up, L.ffn_down, Xn.data(), n, Y.data());
    axpy_f32(1.f, Y.data(), X.data(), static_cast<int64_t>(X.size()));
  }
  for (Sequence* s : seen) {
    for (const SeqSpan& sp : spans)
      if (sp.cache == &s->cache) s->n_past += sp.count;
  }

  if (!logits) return;
  int rows = 0;
  for (int t = 0; t < n; ++t) {
    if (!batch[t].want_logits) continue;
    rms_norm(&X[static_cast<size_t>(t) * d], weights_.output_norm.data(), &Xn[static_cast<size_t>(rows) * d], d, c.rms_eps);
    ++rows;
  }
  if (rows > 0) matmul(weights_.output, Xn.data(), rows, logits);
}

}  // namespace qs
