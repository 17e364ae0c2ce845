// Q4_K rows against 16-bit activations (see q4k_mla.h). A Q4_K weight is d·sc_j·q − dmin·m_j
// (q 4 bits, sc_j/m_j 6 bits per 32-column sub-block j); the q part is summed in integers against
// the 16-bit activations, the mins part in floats against exact float sums.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"  // GCC 12 false positive inside the intrinsics headers
#include "kernels/q4k_mla.h"

#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "kernels/prefetch.h"
#include "tensor/fp16.h"
#include "tensor/quant_blocks.h"
#include "tensor/quants.h"
#include "kernels/target.h"


namespace qs {

namespace {

constexpr float kI16Max = 32767.f;

// The scale that maps a sub-block's largest magnitude to ±32767 (0 for an all-zero sub-block), and
// its inverse; both paths compute them with these same float operations.
inline float i16_scale(float amax) { return amax / kI16Max; }
inline float i16_inverse(float amax) { return amax > 0.f ? kI16Max / amax : 0.f; }

// Sub-block j's d·sc_j and dmin·m_j of one block, times w (as q4k_factors computes them).
void scalar_factors(const block_q4_K& b, float w, float* sc, float* mn) {
  const float d = w * fp16_to_f32(b.d), dmin = w * fp16_to_f32(b.dmin);
  for (int j = 0; j < 8; ++j) {
    uint8_t s, m;
    get_scale_min_k4(j, b.scales, s, m);
    sc[j] = d * static_cast<float>(s);
    mn[j] = dmin * static_cast<float>(m);
  }
}

inline int nibble(const block_q4_K& b, int e) {  // value e (0..255) of a block
  const uint8_t q = b.qs[32 * (e / 64) + e % 32];
  return (e / 32) % 2 ? q >> 4 : q & 0xF;
}

}  // namespace

void dot_q4_K_x16_scalar(const uint8_t* w, size_t stride, int64_t nr, const float* x, int64_t n, float* out, PrefetchTrail*) {
  const int64_t nsb = n / 32;
  std::vector<int16_t> xq(static_cast<size_t>(n));
  std::vector<float> xs(static_cast<size_t>(nsb)), xsum(static_cast<size_t>(nsb));
  for (int64_t j = 0; j < nsb; ++j) {
    float amax = 0.f, sum = 0.f;
    for (int i = 0; i < 32; ++i) {
      amax = std::max(amax, std::fabs(x[32 * j + i]));
      sum += x[32 * j + i];
    }
    const float inv = i16_inverse(amax);
    for (int i = 0; i < 32; ++i) xq[32 * j + i] = static_cast<int16_t>(std::nearbyint(x[32 * j + i] * inv));
    xs[j] = i16_scale(amax);
    xsum[j] = sum;
  }
  for (int64_t r = 0; r < nr; ++r) {
    const auto* b = reinterpret_cast<const block_q4_K*>(w + r * stride);
    float s = 0.f, mins = 0.f;
    for (int64_t k = 0; k < n / QK_K; ++k) {
      float sc[8], mn[8];
      scalar_factors(b[k], 1.f, sc, mn);
      for (int j = 0; j < 8; ++j) {
        int32_t isum = 0;
        for (int i = 0; i < 32; ++i) isum += nibble(b[k], 32 * j + i) * xq[QK_K * k + 32 * j + i];
        s += sc[j] * xs[8 * k + j] * static_cast<float>(isum);
        mins += mn[j] * xsum[8 * k + j];
      }
    }
    out[r] = s - mins;
  }
}

void axpy_q4_K_y16_scalar(const uint8_t* rows, size_t stride, int64_t nr, const float* wts, int64_t n, float* out,
                          PrefetchTrail*) {
  const int64_t nsb = n / 32;
  const auto block = [&](int64_t r, int64_t k) -> const block_q4_K& {
    return reinterpret_cast<const block_q4_K*>(rows + r * stride)[k];
  };
  // y[r][j] = wts[r]·d_r·sc_rj, rounded to 16 bits per sub-block j over the rows.
  std::vector<float> y(static_cast<size_t>(nr * nsb)), mins(static_cast<size_t>(nsb), 0.f), amax(static_cast<size_t>(nsb), 0.f);
  for (int64_t r = 0; r < nr; ++r)
    for (int64_t k = 0; k < n / QK_K; ++k) {
      float mn[8];
      scalar_factors(block(r, k), wts[r], &y[r * nsb + 8 * k], mn);
      for (int j = 0; j < 8; ++j) mins[8 * k + j] += mn[j];
    }
  for (int64_t r = 0; r < nr; ++r)
    for (int64_t j = 0; j < nsb; ++j) amax[j] = std::max(amax[j], std::fabs(y[r * nsb + j]));
  for (int64_t c = 0; c < n; ++c) {
    const int64_t j = c / 32;
    const float inv = i16_inverse(amax[j]);
    int32_t isum = 0;
    for (int64_t r = 0; r < nr; ++r)
      isum += nibble(block(r, c / QK_K), static_cast<int>(c % QK_K)) * static_cast<int16_t>(std::nearbyint(y[r * nsb + j] * inv));
    out[c] += static_cast<float>(isum) * i16_scale(amax[j]) - mins[j];
  }
}

namespace {

QS_TARGET_AVX512_VNNI inline float h2f(uint16_t h) { return _cvtsh_ss(h); }

// A block's 8 sub-block factors d·sc_j and dmin·m_j, times w. The 6-bit fields are unpacked four at
// a time in 32-bit words (what get_scale_min_k4 does one by one) and scaled 8 lanes at a time.
QS_TARGET_AVX512_VNNI inline void q4k_factors(const block_q4_K& b, float w, float* sc, float* mn) {
  constexpr uint32_t k6 = 0x3F3F3F3Fu, k4 = 0x0F0F0F0Fu, k2 = 0x03030303u;
  uint32_t u[3];
  std::memcpy(u, b.scales, 12);
  const uint32_t s03 = u[0] & k6, m03 = u[1] & k6;
  const uint32_t s47 = (u[2] & k4) | ((u[0] >> 6) & k2) << 4, m47 = (u[2] >> 4 & k4) | ((u[1] >> 6) & k2) << 4;
  const __m256 s = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_set_epi32(0, 0, static_cast<int>(s47), static_cast<int>(s03))));
  const __m256 m = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_set_epi32(0, 0, static_cast<int>(m47), static_cast<int>(m03))));
  _mm256_storeu_ps(sc, _mm256_mul_ps(_mm256_set1_ps(w * h2f(b.d)), s));
  _mm256_storeu_ps(mn, _mm256_mul_ps(_mm256_set1_ps(w * h2f(b.dmin)), m));
}

QS_TARGET_AVX512_VNNI inline float hsum256(__m256 v) {
  const __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  return _mm_cvtss_f32(_mm_hadd_ps(_mm_hadd_ps(s, s), _mm_hadd_ps(s, s)));
}

}  // namespace

// Per row and block: 32 bytes of nibbles widen to 32 words (low nibbles: sub-block 2g, high: 2g+1);
// `vpmaddwd` against the 16-bit activations leaves 16 pair sums per sub-block, converted and scaled
// by d·sc_j·(the activations' scale) — 9 operations per 64 weights where the float kernel took ~20.
QS_TARGET_AVX512_VNNI void dot_q4_K_x16_avx512(const uint8_t* w, size_t stride, int64_t nr, const float* x, int64_t n, float* out,
                                               PrefetchTrail* next) {
  const int64_t nsb = n / 32;
  thread_local std::vector<int16_t> xq;
  thread_local std::vector<float> xs, xsum;
  xq.resize(static_cast<size_t>(n));
  xs.resize(static_cast<size_t>(nsb));
  xsum.resize(static_cast<size_t>(nsb));
  for (int64_t j = 0; j < nsb; ++j) {
    const __m512 v0 = _mm512_loadu_ps(x + 32 * j), v1 = _mm512_loadu_ps(x + 32 * j + 16);
    const float amax = _mm512_reduce_max_ps(_mm512_max_ps(_mm512_abs_ps(v0), _mm512_abs_ps(v1)));
    const __m512 inv = _mm512_set1_ps(i16_inverse(amax));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(&xq[32 * j]), _mm512_cvtsepi32_epi16(_mm512_cvtps_epi32(_mm512_mul_ps(v0, inv))));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(&xq[32 * j + 16]), _mm512_cvtsepi32_epi16(_mm512_cvtps_epi32(_mm512_mul_ps(v1, inv))));
    xs[j] = i16_scale(amax);
    xsum[j] = _mm512_reduce_add_ps(_mm512_add_ps(v0, v1));
  }
  const __m512i m4 = _mm512_set1_epi16(0x0F);
  const bool prefetch = prefetch_distance() != 0;
  const int lines = row_lines(stride);
  PrefetchTrail none;
  PrefetchTrail& trail = next ? *next : none;
  const int64_t ahead = rows_ahead(stride);
  for (int64_t r = 0; r < nr; ++r) {
    const auto* b = reinterpret_cast<const block_q4_K*>(w + r * stride);
    if (prefetch) prefetch_row_ahead(w + r * stride, stride, r, nr, ahead, lines, trail);
    __m512 acc0 = _mm512_setzero_ps(), acc1 = _mm512_setzero_ps();
    __m256 macc = _mm256_setzero_ps();
    for (int64_t k = 0; k < n / QK_K; ++k) {
      float sc[8], mn[8], f[8];
      q4k_factors(b[k], 1.f, sc, mn);
      _mm256_storeu_ps(f, _mm256_mul_ps(_mm256_loadu_ps(sc), _mm256_loadu_ps(&xs[8 * k])));
      macc = _mm256_fmadd_ps(_mm256_loadu_ps(mn), _mm256_loadu_ps(&xsum[8 * k]), macc);
      const int16_t* xk = &xq[QK_K * k];
#pragma GCC unroll 4
      for (int g = 0; g < 4; ++g) {
        const __m512i z = _mm512_cvtepu8_epi16(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(b[k].qs + 32 * g)));
        const __m512i p0 = _mm512_madd_epi16(_mm512_and_si512(z, m4), _mm512_loadu_si512(xk + 64 * g));
        const __m512i p1 = _mm512_madd_epi16(_mm512_srli_epi16(z, 4), _mm512_loadu_si512(xk + 64 * g + 32));
        acc0 = _mm512_fmadd_ps(_mm512_cvtepi32_ps(p0), _mm512_set1_ps(f[2 * g]), acc0);
        acc1 = _mm512_fmadd_ps(_mm512_cvtepi32_ps(p1), _mm512_set1_ps(f[2 * g + 1]), acc1);
      }
    }
    out[r] = _mm512_reduce_add_ps(_mm512_add_ps(acc0, acc1)) - hsum256(macc);
  }
}

// Rows in pairs: the two rows' nibbles interleave word by word (vpunpck{l,h}wd), so one `vpdpwssd`
// adds q_a·y_a + q_b·y_b for 16 columns, with (y_a, y_b) — wts·d·sc_j of both rows, rounded to 16 bits
// per sub-block over all rows — one broadcast dword. 256 columns' int32 sums stay in 16 registers
// over all rows (|sum| ≤ rows·15·32767, exact for up to 4,369 rows); the interleave's column order
// is undone once at the end.
QS_TARGET_AVX512_VNNI void axpy_q4_K_y16_avx512(const uint8_t* rows, size_t stride, int64_t nr, const float* wts, int64_t n, float* out,
                                                PrefetchTrail* next) {
  const int64_t nsb = n / 32, np = (nr + 1) / 2;
  const auto block = [rows, stride](int64_t r, int64_t k) -> const block_q4_K& {
    return reinterpret_cast<const block_q4_K*>(rows + r * stride)[k];
  };
  thread_local std::vector<float> y, mins, scale, inv;
  thread_local std::vector<uint32_t> pairs;
  y.resize(static_cast<size_t>(nr * nsb));
  mins.assign(static_cast<size_t>(nsb), 0.f);
  scale.resize(static_cast<size_t>(nsb));
  inv.resize(static_cast<size_t>(nsb));
  pairs.resize(static_cast<size_t>(np * nsb));
  // This pass reads the rows' scales (from L2 when the caller named these rows as the next to read,
  // else from memory); it asks for the whole rows a few ahead, so the products below find them in
  // cache (128 rows of 512 columns: 36 KB). The products then prefetch what the caller names next.
  const bool prefetch = prefetch_distance() != 0;
  const int lines = row_lines(stride);
  PrefetchTrail none;
  PrefetchTrail& trail = next ? *next : none;
  for (int64_t r = 0; r < nr; ++r)
    for (int64_t k = 0; k < n / QK_K; ++k) {
      if (prefetch && k == 0 && r + 4 < nr) prefetch_lines(rows + (r + 4) * stride, lines);
      float mn[8];
      q4k_factors(block(r, k), wts[r], &y[r * nsb + 8 * k], mn);
      _mm256_storeu_ps(&mins[8 * k], _mm256_add_ps(_mm256_loadu_ps(&mins[8 * k]), _mm256_loadu_ps(mn)));
    }
  const __m256 sign = _mm256_set1_ps(-0.f);
  for (int64_t j = 0; j < nsb; j += 8) {
    __m256 amax = _mm256_setzero_ps();
    for (int64_t r = 0; r < nr; ++r) amax = _mm256_max_ps(amax, _mm256_andnot_ps(sign, _mm256_loadu_ps(&y[r * nsb + j])));
    float a[8];
    _mm256_storeu_ps(a, amax);
    for (int i = 0; i < 8; ++i) {
      scale[j + i] = i16_scale(a[i]);
      inv[j + i] = i16_inverse(a[i]);
    }
  }
  for (int64_t p = 0; p < np; ++p)
    for (int64_t j = 0; j < nsb; j += 8) {
      const __m256 iv = _mm256_loadu_ps(&inv[j]);
      const __m256i ya = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(&y[2 * p * nsb + j]), iv));
      const __m256i yb = 2 * p + 1 < nr ? _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(&y[(2 * p + 1) * nsb + j]), iv))
                                        : _mm256_setzero_si256();
      const __m256i packed = _mm256_or_si256(_mm256_and_si256(ya, _mm256_set1_epi32(0xFFFF)), _mm256_slli_epi32(yb, 16));
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(&pairs[p * nsb + j]), packed);
    }
  const __m512i m4 = _mm512_set1_epi16(0x0F);
  const __m512i idx0 = _mm512_setr_epi32(0, 1, 2, 3, 16, 17, 18, 19, 4, 5, 6, 7, 20, 21, 22, 23);
  const __m512i idx1 = _mm512_setr_epi32(8, 9, 10, 11, 24, 25, 26, 27, 12, 13, 14, 15, 28, 29, 30, 31);
  for (int64_t k = 0; k < n / QK_K; ++k) {
    __m512i acc[16];
#pragma GCC unroll 16
    for (int i = 0; i < 16; ++i) acc[i] = _mm512_setzero_si512();
    for (int64_t p = 0; p < np; ++p) {
      const block_q4_K& ba = block(2 * p, k);
      const block_q4_K& bb = 2 * p + 1 < nr ? block(2 * p + 1, k) : ba;  // its weight is 0
      if (prefetch) prefetch_later_step(trail, 5);  // 128 pairs × 5 lines: all of a 512-column head's 36 KB
      const uint32_t* yp = &pairs[p * nsb + 8 * k];
#pragma GCC unroll 4
      for (int g = 0; g < 4; ++g) {
        const __m512i za = _mm512_cvtepu8_epi16(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(ba.qs + 32 * g)));
        const __m512i zb = _mm512_cvtepu8_epi16(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(bb.qs + 32 * g)));
        const __m512i la = _mm512_and_si512(za, m4), lb = _mm512_and_si512(zb, m4);
        const __m512i ha = _mm512_srli_epi16(za, 4), hb = _mm512_srli_epi16(zb, 4);
        const __m512i y0 = _mm512_set1_epi32(static_cast<int>(yp[2 * g])), y1 = _mm512_set1_epi32(static_cast<int>(yp[2 * g + 1]));
        acc[4 * g] = _mm512_dpwssd_epi32(acc[4 * g], _mm512_unpacklo_epi16(la, lb), y0);
        acc[4 * g + 1] = _mm512_dpwssd_epi32(acc[4 * g + 1], _mm512_unpackhi_epi16(la, lb), y0);
        acc[4 * g + 2] = _mm512_dpwssd_epi32(acc[4 * g + 2], _mm512_unpacklo_epi16(ha, hb), y1);
        acc[4 * g + 3] = _mm512_dpwssd_epi32(acc[4 * g + 3], _mm512_unpackhi_epi16(ha, hb), y1);
      }
    }
    // acc[4g + 2s] / acc[4g + 2s + 1] hold sub-block 2g + s: per 128-bit lane L, columns 8L..8L+3 and
    // 8L+4..8L+7.
#pragma GCC unroll 4
    for (int g = 0; g < 4; ++g)
      for (int s = 0; s < 2; ++s) {
        const int64_t j = 8 * k + 2 * g + s;
        const __m512 sj = _mm512_set1_ps(scale[j]), mj = _mm512_set1_ps(mins[j]);
        float* o = out + 32 * j;
        const __m512i c0 = _mm512_permutex2var_epi32(acc[4 * g + 2 * s], idx0, acc[4 * g + 2 * s + 1]);
        const __m512i c1 = _mm512_permutex2var_epi32(acc[4 * g + 2 * s], idx1, acc[4 * g + 2 * s + 1]);
        _mm512_storeu_ps(o, _mm512_add_ps(_mm512_loadu_ps(o), _mm512_fmsub_ps(_mm512_cvtepi32_ps(c0), sj, mj)));
        _mm512_storeu_ps(o + 16, _mm512_add_ps(_mm512_loadu_ps(o + 16), _mm512_fmsub_ps(_mm512_cvtepi32_ps(c1), sj, mj)));
      }
  }
}

}  // namespace qs
