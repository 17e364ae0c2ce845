#include "model/model.h"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <map>
#include <set>
#include <stdexcept>

#include "kernels/matmul.h"
#include "kernels/ops.h"
#include "kernels/qdot.h"
#include "kernels/cpu_features.h"
#include "kernels/repack.h"
#include "kernels/thread_pool.h"
#include "model/moe.h"
#include "tensor/quants.h"

namespace qs {

std::unique_ptr<Model> Model::load(const std::string& path, const LoadOptions& opt) {
  return from_file(GgufFile::open(path), opt);
}

Model::~Model() {
  if (repacked_) munmap(repacked_, repacked_bytes_);
}

void Model::repack_weights(const LoadOptions& opt) {
  if (opt.repack == LoadOptions::Repack::Off) return;
  if (const char* env = std::getenv("QIUSUO_REPACK"); env && std::string(env) == "0") return;
  std::vector<MatView*> views;
  std::set<const MatView*> copy_only;  // kept in their file layout: the per-head kernels read rows as they are
  auto add = [&](MatView& m, bool copy = false) {
    // Q8_0 (with Q4_0), Q5_0 and Q4_K are repacked for the VNNI kernels (repack_worthwhile); other
    // quantized matrices are copied as they are, which still moves them from 4 KiB file pages to
    // huge anonymous pages (fewer TLB misses when streaming).
    if (m.empty() || m.layout != RowLayout::File || m.type == GgmlType::F32 || active_simd_level() < SimdLevel::Avx2) return;
    views.push_back(&m);
    if (copy) copy_only.insert(&m);
  };
  auto repacks = [&](const MatView* m) { return repack_worthwhile(*m) && !copy_only.count(m); };
  for (LayerWeights& L : weights_.layers) {
    for (MatView* m : {&L.wq, &L.wq_a, &L.wq_b, &L.wkv_a, &L.wo, &L.wk, &L.wv, &L.ffn_gate, &L.ffn_up, &L.ffn_down,
                       &L.gate_shexp, &L.up_shexp, &L.down_shexp, &L.gate_exps.all, &L.up_exps.all, &L.down_exps.all})
      add(*m);
  }
  if (!weights_.output_tied) add(weights_.output);
  // MLA's per-head up-projections multiply float activations (rounding the latent to 8 bits costs
  // accuracy there), so they need kernels for float activations: the float types', Q8_0's and
  // Q4_K's (16-bit roundings of them, q4k_mla.h). Those files keep theirs, exact and a half (Q8_0)
  // or a quarter (Q4_K) of F16's bytes, which decode reads for every token (the Q8_0 fixture's
  // logits went from 0.21 to 0.023 RMS off
  // the golden against the F16 copy: small weight roundings flip expert choices there). Other
  // quantized types become F16: re-rounding Q4_K to Q8_0 instead had moved its fixture from 0.12
  // to 0.21 RMS.
  // (Below AVX-512 the quantized ones have only the scalar dequantize-then-dot fallback: F16 there.)
  auto keeps_file_type = [](GgmlType t) {
    return act_format(t) == ActFormat::F32 || (row_dot_f32act_kernel(t) && active_simd_level() >= SimdLevel::Avx512);
  };
  std::vector<MatView*> to_float_act;
  for (LayerWeights& L : weights_.layers)
    for (MatView* m : {&L.wkv_b, &L.wk_b, &L.wv_b}) {
      if (m->empty()) continue;
      // Those kept are copied to huge pages too: decode reads every head's rows per token (2% of a
      // Q4_K token's bytes), and from 4 KiB file pages that phase ran at a quarter of the memory's speed.
      if (keeps_file_type(m->type)) add(*m, /*copy=*/true);
      else to_float_act.push_back(m);
    }
  // One copy per distinct tensor (a fused gate+up tensor backs two views).
  std::map<const uint8_t*, size_t> offset;
  size_t total = 0;
  for (MatView* m : views) {
    if (offset.count(m->data)) continue;
    total = (total + 63) / 64 * 64;  // cache-line aligned: the grouped kernels' 64-byte loads stay whole
    offset[m->data] = total;
    total += repacks(m) ? repacked_size(*m) : static_cast<size_t>(m->rows) * m->row_stride;
  }
  size_t float_act_total = 0;
  for (MatView* m : to_float_act) float_act_total += static_cast<size_t>(m->rows) * row_bytes(GgmlType::F16, m->cols);
  if (total + float_act_total == 0) return;
  if (opt.repack == LoadOptions::Repack::Auto && total + float_act_total > meminfo_bytes("MemAvailable:") / 2) return;
  total += float_act_total;
  void* p = mmap(nullptr, total, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) return;  // not fatal: keep the file layout
  madvise(p, total, MADV_HUGEPAGE);
  repacked_ = static_cast<uint8_t*>(p);
  repacked_bytes_ = total;
  std::map<const uint8_t*, MatView> done;
  const uintptr_t page = static_cast<uintptr_t>(sysconf(_SC_PAGESIZE));
  for (MatView* m : views) {
    auto it = done.find(m->data);
    if (it == done.end()) {
      uint8_t* dst = repacked_ + offset[m->data];
      it = done.emplace(m->data, repacks(m) ? repack(*m, dst) : copy_rows(*m, dst)).first;
      // The file's copy is no longer read: drop its pages from our resident set (whole pages only).
      const auto lo = (reinterpret_cast<uintptr_t>(m->data) + page - 1) / page * page;
      const auto hi = (reinterpret_cast<uintptr_t>(m->data) + static_cast<size_t>(m->rows) * m->row_stride) / page * page;
      if (hi > lo) madvise(reinterpret_cast<void*>(lo), hi - lo, MADV_DONTNEED);
    }
    const uint8_t* base = it->second.data;
    m->data = base;
    m->layout = it->second.layout;
    m->type = it->second.type;
    m->row_stride = it->second.row_stride;
  }
  size_t at = total - float_act_total;
  for (MatView* m : to_float_act) {
    uint8_t* dst = repacked_ + at;
    const MatView src = *m;
    const GgmlType t = GgmlType::F16;
    const size_t rb = row_bytes(t, src.cols);
    global_pool().parallel_for(src.rows, [&](int64_t r0, int64_t r1, int) {
      std::vector<float> row(static_cast<size_t>(src.cols));
      for (int64_t r = r0; r < r1; ++r) {
        dequantize_row(src.type, src.row(r), row.data(), src.cols);
        quantize_row(t, row.data(), dst + static_cast<size_t>(r) * rb, src.cols);
      }
    });
    *m = MatView{dst, t, src.rows, src.cols, rb};
    at += static_cast<size_t>(src.rows) * rb;
  }
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
