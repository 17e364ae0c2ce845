#include "kernels/latent_heads.h"

#include <algorithm>
#include <cmath>

namespace qs {

namespace {

void latent_chunk_scalar(const float* qT, int dk, const float* K, size_t k_stride, int ns, int dc, float scale,
                         float* scratch, const LatentHeadsState& st, PrefetchTrail*) {
  for (int j = 0; j < ns; ++j)
    for (int i = 0; i < kLatentLanes; ++i) {
      float s = 0.f;
      for (int d = 0; d < dk; ++d) s += qT[d * kLatentLanes + i] * K[j * k_stride + d];
      scratch[j * kLatentLanes + i] = scale * s;
    }
  for (int i = 0; i < kLatentLanes; ++i) {
    float mx = st.m[i];
    for (int j = 0; j < ns; ++j) mx = std::max(mx, scratch[j * kLatentLanes + i]);
    const float corr = std::exp(st.m[i] - mx);  // 0 on the first chunk (m = -inf)
    float sum = 0.f;
    for (int j = 0; j < ns; ++j) sum += (scratch[j * kLatentLanes + i] = std::exp(scratch[j * kLatentLanes + i] - mx));
    st.l[i] = st.l[i] * corr + sum;
    st.m[i] = mx;
    for (int d = 0; d < dc; ++d) {
      float o = st.oT[d * kLatentLanes + i] * corr;
      for (int j = 0; j < ns; ++j) o += scratch[j * kLatentLanes + i] * K[j * k_stride + d];
      st.oT[d * kLatentLanes + i] = o;
    }
  }
}

}  // namespace

LatentChunkFn latent_chunk_kernel(SimdLevel level) {
  return level >= SimdLevel::Avx512 ? latent_chunk_avx512() : latent_chunk_scalar;
}

}  // namespace qs
