#include "kernels/index_scores.h"

#include <algorithm>
#include <cstring>

#include "kernels/repack.h"
#include "tensor/fp16.h"

namespace qs {

namespace {

void index_scores_scalar(const uint8_t* K, size_t row_stride, bool f16, int nk, const IndexQuery& q, float* scores) {
  std::vector<float> acc(static_cast<size_t>(q.hp)), key(static_cast<size_t>(q.dk));
  for (int j = 0; j < nk; ++j) {
    std::fill(acc.begin(), acc.end(), 0.f);
    const uint8_t* row = K + static_cast<size_t>(j) * row_stride;
    for (int d = 0; d < q.dk; ++d) {
      uint16_t h;
      if (f16) std::memcpy(&h, row + 2 * d, 2), key[d] = fp16_to_f32(h);
      else std::memcpy(&key[d], row + 4 * d, 4);
    }
    const float* k = key.data();
    for (int d = 0; d < q.dk; ++d) {
      const float* qd = &q.qT[static_cast<size_t>(d) * q.hp];
      for (int h = 0; h < q.hp; ++h) acc[h] += qd[h] * k[d];
    }
    float s = 0.f;
    for (int h = 0; h < q.hp; ++h) s += q.w[h] * std::max(acc[h], 0.f);
    scores[j] = s;
  }
}

}  // namespace

IndexQuery prepare_index_query(const float* q, const float* w, int n_head, int dk) {
  IndexQuery p;
  p.dk = dk;
  p.hp = (n_head + 15) / 16 * 16;
  p.qT.assign(static_cast<size_t>(dk) * p.hp, 0.f);
  p.w.assign(static_cast<size_t>(p.hp), 0.f);
  for (int h = 0; h < n_head; ++h) {
    p.w[h] = w[h];
    for (int d = 0; d < dk; ++d) p.qT[static_cast<size_t>(d) * p.hp + h] = q[static_cast<size_t>(h) * dk + d];
  }
  return p;
}

IndexScoresFn index_scores_kernel(SimdLevel level) {
  return level >= SimdLevel::Avx512 ? index_scores_avx512() : index_scores_scalar;
}

void index_scores_st(const MatView& keys, const IndexQuery& q, float* scores) {
  constexpr int64_t kChunk = 64;  // keys converted at a time: 32 KiB of floats for V3.2's 128 dims
  const IndexScoresFn fn = index_scores_kernel();
  const bool direct = (keys.type == GgmlType::F32 || keys.type == GgmlType::F16) && q.dk <= kIndexMaxDirectDim &&
                      keys.layout == RowLayout::File;
  if (direct) return fn(keys.data, keys.row_stride, keys.type == GgmlType::F16, static_cast<int>(keys.rows), q, scores);
  std::vector<float> buf(static_cast<size_t>(kChunk) * q.dk);
  for (int64_t j0 = 0; j0 < keys.rows; j0 += kChunk) {
    const int64_t nk = std::min(kChunk, keys.rows - j0);
    for (int64_t j = 0; j < nk; ++j) row_to_float(keys, j0 + j, &buf[static_cast<size_t>(j) * q.dk]);
    fn(reinterpret_cast<const uint8_t*>(buf.data()), sizeof(float) * q.dk, false, static_cast<int>(nk), q, scores + j0);
  }
}

}  // namespace qs
