// DeepSeek Sparse Attention's lightning indexer (deepseek32): per layer and token, a small
// multi-head scorer picks the top_k cached positions that MLA then attends to.
//   q = W_iq · qr (MLA's normed q latent), per head [rope | nope], RoPE in halves (NeoX)
//   k = LayerNorm(W_ik · x), the same split and RoPE; cached, one key per token and layer
//   w = W_iw · x / sqrt(n_head · head_dim)
//   score(t, s) = Σ_h w[t,h] · ReLU(q[t,h] · k[s])   for s ≤ t; the top_k scores win
// A token with pos + 1 ≤ top_k sees every position: dense attention, and no scoring at all.
#pragma once
#include <cstdint>
#include <vector>

#include "model/attention.h"

namespace qs {

// Which cached positions each token of a batch attends to.
struct KeySelection {
  // Per token of the batch: its selected positions in ascending order, or empty when it attends to
  // all of its positions. Empty as a whole when no token of the batch is sparse.
  std::vector<std::vector<int32_t>> rows;
  bool sparse(int t) const { return !rows.empty() && !rows[static_cast<size_t>(t)].empty(); }
};

// Computes the batch's indexer keys and stores them in the sequences' caches, then selects each
// token's keys. X: the attention input [n][n_embd] (after attn_norm); qr: [n][q_lora_rank].
KeySelection select_keys(const ModelConfig& c, const LayerWeights& w, const Rope& rope, const std::vector<SeqSpan>& spans,
                         int il, const float* X, const float* qr, int n);

// The top k of scores[0, n) as ascending positions (ties: the earlier position), k < n.
std::vector<int32_t> top_k_positions(const float* scores, int n, int k);

}  // namespace qs
