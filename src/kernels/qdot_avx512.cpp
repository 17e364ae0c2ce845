// AVX-512 (F, BW, VL, VNNI) row dot kernels. Compiled with per-function target attributes so the
// binary still runs on CPUs without AVX-512; row_dot_kernel only hands them out when the CPU has it.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"  // GCC 12 false positive inside the intrinsics headers
#include <immintrin.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "kernels/grouped_q8.h"
#include "kernels/prefetch.h"
#include "kernels/q4k_mla.h"
#include "kernels/qdot.h"
#include "tensor/fp16.h"
#include "tensor/quant_blocks.h"
#include "kernels/target.h"


namespace qs {

namespace {

// Hardware half->float (F16C); the portable fp16_to_f32 is far too slow for per-block scales.
QS_TARGET_AVX512_VNNI inline float h2f(uint16_t h) { return _cvtsh_ss(h); }

QS_TARGET_AVX512_VNNI inline float hsum(__m512 v) { return _mm512_reduce_add_ps(v); }

// Two 256-bit halves from unaligned addresses into one 512-bit register.
QS_TARGET_AVX512_VNNI inline __m512i join(__m256i lo, __m256i hi) {
  return _mm512_inserti64x4(_mm512_castsi256_si512(lo), hi, 1);
}
QS_TARGET_AVX512_VNNI inline __m512 join_scale(float lo, float hi) {
  return _mm512_mask_blend_ps(0xFF00, _mm512_set1_ps(lo), _mm512_set1_ps(hi));
}

QS_TARGET_AVX512_VNNI void dot_f32(const uint8_t* w, size_t stride, int64_t nr, const void* act, int64_t n, float* out) {
  const auto* x = static_cast<const float*>(act);
  for (int64_t r = 0; r < nr; ++r) {
    const auto* row = reinterpret_cast<const float*>(w + r * stride);
    __m512 a0 = _mm512_setzero_ps(), a1 = _mm512_setzero_ps();
    int64_t i = 0;
    for (; i + 32 <= n; i += 32) {
      a0 = _mm512_fmadd_ps(_mm512_loadu_ps(row + i), _mm512_loadu_ps(x + i), a0);
      a1 = _mm512_fmadd_ps(_mm512_loadu_ps(row + i + 16), _mm512_loadu_ps(x + i + 16), a1);
    }
    for (; i + 16 <= n; i += 16) a0 = _mm512_fmadd_ps(_mm512_loadu_ps(row + i), _mm512_loadu_ps(x + i), a0);
    float s = hsum(_mm512_add_ps(a0, a1));
    for (; i < n; ++i) s += row[i] * x[i];
    out[r] = s;
  }
}

QS_TARGET_AVX512_VNNI inline __m512 load_f16(const uint16_t* p) {
  return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
}
QS_TARGET_AVX512_VNNI inline __m512 load_bf16(const uint16_t* p) {
  const __m512i v = _mm512_cvtepu16_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
  return _mm512_castsi512_ps(_mm512_slli_epi32(v, 16));
}

template <bool kBf16>
QS_TARGET_AVX512_VNNI void dot_half(const uint8_t* w, size_t stride, int64_t nr, const void* act, int64_t n, float* out) {
  const auto* x = static_cast<const float*>(act);
  for (int64_t r = 0; r < nr; ++r) {
    const auto* row = reinterpret_cast<const uint16_t*>(w + r * stride);
    // The next row's start: MLA's 16-bit up-projections are read once per token, from memory.
    if (prefetch_distance()) prefetch_lines(w + (r + 1) * stride, static_cast<int>(std::min<int64_t>(8, (2 * n + 63) / 64)));
    __m512 a0 = _mm512_setzero_ps(), a1 = _mm512_setzero_ps();
    int64_t i = 0;
    for (; i + 32 <= n; i += 32) {
      a0 = _mm512_fmadd_ps(kBf16 ? load_bf16(row + i) : load_f16(row + i), _mm512_loadu_ps(x + i), a0);
      a1 = _mm512_fmadd_ps(kBf16 ? load_bf16(row + i + 16) : load_f16(row + i + 16), _mm512_loadu_ps(x + i + 16), a1);
    }
    for (; i + 16 <= n; i += 16)
      a0 = _mm512_fmadd_ps(kBf16 ? load_bf16(row + i) : load_f16(row + i), _mm512_loadu_ps(x + i), a0);
    float s = hsum(_mm512_add_ps(a0, a1));
    for (; i < n; ++i) s += (kBf16 ? bf16_to_f32(row[i]) : h2f(row[i])) * x[i];
    out[r] = s;
  }
}

// Σ w·x over 64 signed bytes: VNNI multiplies unsigned by signed, so move w's sign onto x.
QS_TARGET_AVX512_VNNI inline __m512i dot_s8(__m512i w, __m512i x) {
  const __mmask64 neg = _mm512_movepi8_mask(w);
  const __m512i sx = _mm512_mask_sub_epi8(x, neg, _mm512_setzero_si512(), x);
  return _mm512_dpbusd_epi32(_mm512_setzero_si512(), _mm512_abs_epi8(w), sx);
}

QS_TARGET_AVX512_VNNI inline __m256i load256(const void* p) { return _mm256_loadu_si256(static_cast<const __m256i*>(p)); }

QS_TARGET_AVX512_VNNI void dot_q8_0(const uint8_t* w, size_t stride, int64_t nr, const void* act, int64_t n, float* out) {
  const auto* a = static_cast<const BlockQ8A*>(act);
  const int64_t nb = n / 32;
  for (int64_t r = 0; r < nr; ++r) {
    const auto* b = reinterpret_cast<const block_q8_0*>(w + r * stride);
    __m512 acc = _mm512_setzero_ps();
    int64_t k = 0;
    for (; k + 2 <= nb; k += 2) {
      const __m512i p = dot_s8(join(load256(b[k].qs), load256(b[k + 1].qs)), join(load256(a[k].qs), load256(a[k + 1].qs)));
      const __m512 sc = join_scale(h2f(b[k].d) * a[k].d, h2f(b[k + 1].d) * a[k + 1].d);
      acc = _mm512_fmadd_ps(_mm512_cvtepi32_ps(p), sc, acc);
    }
    float s = hsum(acc);
    for (; k < nb; ++k) {
      int32_t isum = 0;
      for (int i = 0; i < 32; ++i) isum += b[k].qs[i] * a[k].qs[i];
      s += h2f(b[k].d) * a[k].d * static_cast<float>(isum);
    }
    out[r] = s;
  }
}

QS_TARGET_AVX512_VNNI void dot_q4_K(const uint8_t* w, size_t stride, int64_t nr, const void* act, int64_t n, float* out) {
  const auto* a = static_cast<const block_q8_K*>(act);
  const int64_t nb = n / QK_K;
  const __m256i m4 = _mm256_set1_epi8(0x0F);
  // Chunk c (64 values) takes scale 2c for its first 32 values and 2c+1 for the next 32.
  alignas(64) int16_t idx_tab[4][32];
  for (int c = 0; c < 4; ++c)
    for (int l = 0; l < 32; ++l) idx_tab[c][l] = static_cast<int16_t>(2 * c + l / 16);
  __m512i idx[4];
  for (int c = 0; c < 4; ++c) idx[c] = _mm512_load_si512(idx_tab[c]);
  for (int64_t r = 0; r < nr; ++r) {
    const auto* b = reinterpret_cast<const block_q4_K*>(w + r * stride);
    __m512 acc = _mm512_setzero_ps();
    float corr = 0.f;
    for (int64_t k = 0; k < nb; ++k) {
      // The 12 scale bytes unpacked in four words (what get_scale_min_k4 reads one at a time):
      // u[0..1] = the 8 six-bit scales, u[2..3] = the 8 six-bit mins.
      uint32_t u[4];
      std::memcpy(u, b[k].scales, 12);
      u[3] = ((u[2] >> 4) & 0x0f0f0f0fu) | (((u[1] >> 6) & 0x03030303u) << 4);
      const uint32_t mins_lo = u[1] & 0x3f3f3f3fu;
      u[1] = (u[2] & 0x0f0f0f0fu) | (((u[0] >> 6) & 0x03030303u) << 4);
      u[2] = mins_lo;
      u[0] &= 0x3f3f3f3fu;
      const __m512i sc16 = _mm512_castsi256_si512(_mm256_castsi128_si256(
          _mm_cvtepu8_epi16(_mm_set_epi32(0, 0, static_cast<int>(u[1]), static_cast<int>(u[0])))));
      __m512i isum = _mm512_setzero_si512();
      for (int c = 0; c < 4; ++c) {
        const __m256i q = load256(b[k].qs + 32 * c);
        const __m512i q2 = join(_mm256_and_si256(q, m4), _mm256_and_si256(_mm256_srli_epi16(q, 4), m4));
        const __m512i p16 = _mm512_maddubs_epi16(q2, _mm512_loadu_si512(a[k].qs + 64 * c));
        isum = _mm512_dpwssd_epi32(isum, p16, _mm512_permutexvar_epi16(idx[c], sc16));
      }
      const float d = a[k].d * h2f(b[k].d);
      acc = _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum), _mm512_set1_ps(d), acc);
      // Σ_j min_j · (bsum of sub-block j's 32 values).
      const __m256i bs = load256(a[k].bsums);
      const __m128i pair = _mm_hadd_epi16(_mm256_castsi256_si128(bs), _mm256_extracti128_si256(bs, 1));
      const __m128i mn16 = _mm_cvtepu8_epi16(_mm_set_epi32(0, 0, static_cast<int>(u[3]), static_cast<int>(u[2])));
      const __m128i pm = _mm_madd_epi16(mn16, pair);
      const int32_t summ = _mm_extract_epi32(pm, 0) + _mm_extract_epi32(pm, 1) + _mm_extract_epi32(pm, 2) + _mm_extract_epi32(pm, 3);
      corr += a[k].d * h2f(b[k].dmin) * static_cast<float>(summ);
    }
    out[r] = hsum(acc) - corr;
  }
}

QS_TARGET_AVX512_VNNI void dot_q6_K(const uint8_t* w, size_t stride, int64_t nr, const void* act, int64_t n, float* out) {
  const auto* a = static_cast<const block_q8_K*>(act);
  const int64_t nb = n / QK_K;
  const __m256i m4 = _mm256_set1_epi8(0x0F), m2 = _mm256_set1_epi8(0x03);
  // Each 16-bit lane group of 8 (16 elements) takes one of the 16 sub-block scales.
  alignas(64) int16_t idx_tab[4][32];
  for (int h = 0; h < 2; ++h)
    for (int pair = 0; pair < 2; ++pair)
      for (int l = 0; l < 32; ++l) idx_tab[2 * h + pair][l] = static_cast<int16_t>(8 * h + 4 * pair + l / 8);
  __m512i idx[4];
  for (int i = 0; i < 4; ++i) idx[i] = _mm512_load_si512(idx_tab[i]);
  for (int64_t r = 0; r < nr; ++r) {
    const auto* b = reinterpret_cast<const block_q6_K*>(w + r * stride);
    __m512 acc = _mm512_setzero_ps();
    float corr = 0.f;
    for (int64_t k = 0; k < nb; ++k) {
      const __m256i sc16 = _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(b[k].scales)));
      const __m512i sc = _mm512_castsi256_si512(sc16);
      __m512i isum = _mm512_setzero_si512();
      for (int h = 0; h < 2; ++h) {
        const __m256i qh = load256(b[k].qh + 32 * h);
        const __m256i ql0 = load256(b[k].ql + 64 * h), ql1 = load256(b[k].ql + 64 * h + 32);
        const __m256i q0 = _mm256_or_si256(_mm256_and_si256(ql0, m4), _mm256_slli_epi16(_mm256_and_si256(qh, m2), 4));
        const __m256i q1 = _mm256_or_si256(_mm256_and_si256(ql1, m4),
                                           _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 2), m2), 4));
        const __m256i q2 = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(ql0, 4), m4),
                                           _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 4), m2), 4));
        const __m256i q3 = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(ql1, 4), m4),
                                           _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 6), m2), 4));
        const __m512i p01 = _mm512_maddubs_epi16(join(q0, q1), _mm512_loadu_si512(a[k].qs + 128 * h));
        const __m512i p23 = _mm512_maddubs_epi16(join(q2, q3), _mm512_loadu_si512(a[k].qs + 128 * h + 64));
        isum = _mm512_dpwssd_epi32(isum, p01, _mm512_permutexvar_epi16(idx[2 * h], sc));
        isum = _mm512_dpwssd_epi32(isum, p23, _mm512_permutexvar_epi16(idx[2 * h + 1], sc));
      }
      const float d = a[k].d * h2f(b[k].d);
      acc = _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum), _mm512_set1_ps(d), acc);
      // The -32 offset: Σ_j sc_j · 32 · bsum_j.
      const __m256i ms = _mm256_madd_epi16(sc16, load256(a[k].bsums));
      const __m128i m = _mm_add_epi32(_mm256_castsi256_si128(ms), _mm256_extracti128_si256(ms, 1));
      const int32_t s = _mm_extract_epi32(m, 0) + _mm_extract_epi32(m, 1) + _mm_extract_epi32(m, 2) + _mm_extract_epi32(m, 3);
      corr += d * 32.f * static_cast<float>(s);
    }
    out[r] = hsum(acc) - corr;
  }
}

template <bool kBf16>
QS_TARGET_AVX512_VNNI void axpy_rows_half(const uint8_t* rows, size_t stride, int64_t nr, const float* wts, int64_t n, float* out,
                                          PrefetchTrail*) {
  int64_t i = 0;
  // Columns in register-sized strips so each output strip is loaded and stored once. Wide strips
  // first: MLA's absorbed decode runs this over 16-bit weights read from memory (W_UK rows of 512),
  // where 64-column strips meant a strided pass over all rows per strip; now 512 contiguous bytes
  // per row, with the row a few ahead prefetched. Each output still sums rows in order.
  const bool prefetch = prefetch_distance() != 0;
  for (; i + 256 <= n; i += 256) {
    __m512 o[16];
#pragma GCC unroll 16
    for (int j = 0; j < 16; ++j) o[j] = _mm512_loadu_ps(out + i + 16 * j);
    for (int64_t r = 0; r < nr; ++r) {
      const auto* row = reinterpret_cast<const uint16_t*>(rows + r * stride) + i;
      if (prefetch) prefetch_lines(row + 4 * stride / 2, 8);
      const __m512 a = _mm512_set1_ps(wts[r]);
#pragma GCC unroll 16
      for (int j = 0; j < 16; ++j) o[j] = _mm512_fmadd_ps(a, kBf16 ? load_bf16(row + 16 * j) : load_f16(row + 16 * j), o[j]);
    }
#pragma GCC unroll 16
    for (int j = 0; j < 16; ++j) _mm512_storeu_ps(out + i + 16 * j, o[j]);
  }
  for (; i + 64 <= n; i += 64) {
    __m512 o0 = _mm512_loadu_ps(out + i), o1 = _mm512_loadu_ps(out + i + 16), o2 = _mm512_loadu_ps(out + i + 32),
           o3 = _mm512_loadu_ps(out + i + 48);
    for (int64_t r = 0; r < nr; ++r) {
      const auto* row = reinterpret_cast<const uint16_t*>(rows + r * stride) + i;
      const __m512 a = _mm512_set1_ps(wts[r]);
      o0 = _mm512_fmadd_ps(a, kBf16 ? load_bf16(row) : load_f16(row), o0);
      o1 = _mm512_fmadd_ps(a, kBf16 ? load_bf16(row + 16) : load_f16(row + 16), o1);
      o2 = _mm512_fmadd_ps(a, kBf16 ? load_bf16(row + 32) : load_f16(row + 32), o2);
      o3 = _mm512_fmadd_ps(a, kBf16 ? load_bf16(row + 48) : load_f16(row + 48), o3);
    }
    _mm512_storeu_ps(out + i, o0);
    _mm512_storeu_ps(out + i + 16, o1);
    _mm512_storeu_ps(out + i + 32, o2);
    _mm512_storeu_ps(out + i + 48, o3);
  }
  for (; i + 16 <= n; i += 16) {
    __m512 o = _mm512_loadu_ps(out + i);
    for (int64_t r = 0; r < nr; ++r) {
      const auto* row = reinterpret_cast<const uint16_t*>(rows + r * stride) + i;
      o = _mm512_fmadd_ps(_mm512_set1_ps(wts[r]), kBf16 ? load_bf16(row) : load_f16(row), o);
    }
    _mm512_storeu_ps(out + i, o);
  }
  for (; i < n; ++i)
    for (int64_t r = 0; r < nr; ++r) {
      const uint16_t h = reinterpret_cast<const uint16_t*>(rows + r * stride)[i];
      out[i] += wts[r] * (kBf16 ? bf16_to_f32(h) : h2f(h));
    }
}

// One block of 32 floats -> 32 int8, its scale and its sum.
QS_TARGET_AVX512_VNNI inline void quant_block32(const float* x, int8_t* q, float* d_out, int32_t* sum_out) {
  const __m512 a = _mm512_loadu_ps(x), b = _mm512_loadu_ps(x + 16);
  const float amax = _mm512_reduce_max_ps(_mm512_max_ps(_mm512_abs_ps(a), _mm512_abs_ps(b)));
  const float d = amax / 127.f;
  const __m512 id = _mm512_set1_ps(d > 0.f ? 1.f / d : 0.f);
  // Finite inputs give lanes in [-127, 127] and the clamp changes nothing; an inf/NaN activation
  // (a broken model) converts to INT_MIN, and the clamp keeps the sum defined and equal to the bytes.
  const __m512i lo = _mm512_set1_epi32(-128), hi = _mm512_set1_epi32(127);
  const __m512i qa = _mm512_max_epi32(_mm512_min_epi32(_mm512_cvtps_epi32(_mm512_mul_ps(a, id)), hi), lo);
  const __m512i qb = _mm512_max_epi32(_mm512_min_epi32(_mm512_cvtps_epi32(_mm512_mul_ps(b, id)), hi), lo);
  _mm_storeu_si128(reinterpret_cast<__m128i*>(q), _mm512_cvtsepi32_epi8(qa));
  _mm_storeu_si128(reinterpret_cast<__m128i*>(q + 16), _mm512_cvtsepi32_epi8(qb));
  *d_out = d;
  *sum_out = _mm512_reduce_add_epi32(_mm512_add_epi32(qa, qb));
}

QS_TARGET_AVX512_VNNI void quant_act_q8split(const float* x, void* dst, int64_t n) {
  auto* qs = static_cast<int8_t*>(dst);
  auto* d = reinterpret_cast<float*>(qs + n);
  auto* sum = reinterpret_cast<int32_t*>(d + n / 32);
  for (int64_t k = 0; k < n / 32; ++k) quant_block32(x + 32 * k, qs + 32 * k, d + k, sum + k);
}

// 16 float rows -> one Q8x16 group (Q8_0 rounding: scale amax/127 stored as fp16).
QS_TARGET_AVX512_VNNI void pack_group_from_float(const float* rows, size_t row_stride, int64_t cols, uint8_t* grp) {
  const int64_t nb = cols / 32;
  auto* scales = reinterpret_cast<uint16_t*>(grp);
  uint8_t* quants = grp + 32 * nb;
  alignas(64) int8_t q[32];
  for (int r = 0; r < 16; ++r) {
    const float* x = rows + r * row_stride;
    for (int64_t k = 0; k < nb; ++k) {
      float d;
      int32_t sum;
      quant_block32(x + 32 * k, q, &d, &sum);
      scales[16 * k + r] = static_cast<uint16_t>(_cvtss_sh(d, 0));
      uint8_t* qk = quants + 512 * k + 4 * r;
      for (int step = 0; step < 8; ++step) {
        uint32_t v;
        std::memcpy(&v, q + 4 * step, 4);
        v ^= 0x80808080u;  // q + 128 as unsigned, per byte
        std::memcpy(qk + 64 * step, &v, 4);
      }
    }
  }
}

QS_TARGET_AVX512_VNNI void quant_act_q8a(const float* x, void* dst, int64_t n) {
  auto* y = static_cast<BlockQ8A*>(dst);
  for (int64_t k = 0; k < n / 32; ++k) quant_block32(x + 32 * k, y[k].qs, &y[k].d, &y[k].sum);
}

// Q8_K exactly as the reference: scale from the signed value of largest magnitude (its first
// occurrence), -127/max, round to nearest even, clamp at 127, sums of 16.
QS_TARGET_AVX512_VNNI void quant_act_q8k(const float* x, void* dst, int64_t n) {
  auto* y = static_cast<block_q8_K*>(dst);
  for (int64_t i = 0; i < n / QK_K; ++i, x += QK_K) {
    __m512 am = _mm512_setzero_ps();
    for (int j = 0; j < QK_K; j += 16) am = _mm512_max_ps(am, _mm512_abs_ps(_mm512_loadu_ps(x + j)));
    const float amax = _mm512_reduce_max_ps(am);
    if (amax == 0.f) {
      std::memset(&y[i], 0, sizeof(block_q8_K));
      continue;
    }
    float max = 0.f;
    for (int j = 0; j < QK_K; j += 16) {
      const __mmask16 hit = _mm512_cmp_ps_mask(_mm512_abs_ps(_mm512_loadu_ps(x + j)), _mm512_set1_ps(amax), _CMP_EQ_OQ);
      if (hit) {
        max = x[j + __builtin_ctz(hit)];
        break;
      }
    }
    const float iscale = -127.f / max;
    const __m512 is = _mm512_set1_ps(iscale);
    for (int j = 0; j < QK_K; j += 16) {
      // Clamped below too: only non-finite input (INT_MIN from the conversion) reaches it, and the
      // 16-lane sum must not overflow.
      const __m512i q = _mm512_max_epi32(
          _mm512_min_epi32(_mm512_cvtps_epi32(_mm512_mul_ps(_mm512_loadu_ps(x + j), is)), _mm512_set1_epi32(127)),
          _mm512_set1_epi32(-128));
      _mm_storeu_si128(reinterpret_cast<__m128i*>(y[i].qs + j), _mm512_cvtsepi32_epi8(q));
      y[i].bsums[j / 16] = static_cast<int16_t>(_mm512_reduce_add_epi32(q));
    }
    y[i].d = 1 / iscale;
  }
}

}  // namespace

QuantActFn quant_act_q8a_avx512() { return quant_act_q8a; }
QuantActFn quant_act_q8k_avx512() { return quant_act_q8k; }
QuantActFn quant_act_q8split_avx512() { return quant_act_q8split; }
PackGroupFn pack_group_from_float_avx512() { return pack_group_from_float; }

GemmFn q8x16_gemm_avx512() { return grouped_q8::gemm_avx512<grouped_q8::Q8x16Layout>; }

namespace {

// 16 int8 quants as floats.
QS_TARGET_AVX512_VNNI inline __m512 q8_to_ps(const int8_t* q) {
  return _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(q))));
}

// Q8_0 rows against float activations (MLA's up-projections: the latent is not rounded to 8 bits).
QS_TARGET_AVX512_VNNI void dot_q8_0_f32(const uint8_t* w, size_t stride, int64_t nr, const float* x, int64_t n, float* out,
                                        PrefetchTrail* next) {
  const int64_t nb = n / 32;
  const bool prefetch = prefetch_distance() != 0;
  const int lines = row_lines(stride);
  const int64_t ahead = rows_ahead(stride);
  PrefetchTrail none;
  PrefetchTrail& trail = next ? *next : none;
  for (int64_t r = 0; r < nr; ++r) {
    const auto* b = reinterpret_cast<const block_q8_0*>(w + r * stride);
    if (prefetch) prefetch_row_ahead(w + r * stride, stride, r, nr, ahead, lines, trail);
    __m512 acc = _mm512_setzero_ps();
    for (int64_t k = 0; k < nb; ++k) {
      const __m512 t = _mm512_fmadd_ps(q8_to_ps(b[k].qs), _mm512_loadu_ps(x + 32 * k),
                                       _mm512_mul_ps(q8_to_ps(b[k].qs + 16), _mm512_loadu_ps(x + 32 * k + 16)));
      acc = _mm512_fmadd_ps(t, _mm512_set1_ps(h2f(b[k].d)), acc);
    }
    out[r] = hsum(acc);
  }
}

// out[c] += Σ_r wts[r] · d·q over Q8_0 rows: MLA's W_UKᵀ·q_nope on Q8_0 weights, and the weighted
// sum of a Q8_0 latent cache. Strips of 256 columns as in axpy_rows_half; each strip prefetches its
// part of the rows ahead, then steps the trail (the next head's rows, prefetch.h).
QS_TARGET_AVX512_VNNI void axpy_rows_q8_0(const uint8_t* rows, size_t stride, int64_t nr, const float* wts, int64_t n, float* out,
                                          PrefetchTrail* next) {
  const bool prefetch = prefetch_distance() != 0;
  const int64_t ahead = rows_ahead(stride);
  PrefetchTrail none;
  PrefetchTrail& trail = next ? *next : none;
  int64_t i = 0;
  for (; i + 256 <= n; i += 256) {
    __m512 o[16];
#pragma GCC unroll 16
    for (int j = 0; j < 16; ++j) o[j] = _mm512_loadu_ps(out + i + 16 * j);
    for (int64_t r = 0; r < nr; ++r) {
      const auto* b = reinterpret_cast<const block_q8_0*>(rows + r * stride) + i / 32;
      if (prefetch) prefetch_row_ahead(reinterpret_cast<const uint8_t*>(b), stride, r, nr, ahead, 5, trail);
#pragma GCC unroll 8
      for (int k = 0; k < 8; ++k) {
        const __m512 a = _mm512_set1_ps(wts[r] * h2f(b[k].d));
        o[2 * k] = _mm512_fmadd_ps(a, q8_to_ps(b[k].qs), o[2 * k]);
        o[2 * k + 1] = _mm512_fmadd_ps(a, q8_to_ps(b[k].qs + 16), o[2 * k + 1]);
      }
    }
#pragma GCC unroll 16
    for (int j = 0; j < 16; ++j) _mm512_storeu_ps(out + i + 16 * j, o[j]);
  }
  for (; i + 32 <= n; i += 32) {
    __m512 o0 = _mm512_loadu_ps(out + i), o1 = _mm512_loadu_ps(out + i + 16);
    for (int64_t r = 0; r < nr; ++r) {
      const auto* b = reinterpret_cast<const block_q8_0*>(rows + r * stride) + i / 32;
      const __m512 a = _mm512_set1_ps(wts[r] * h2f(b->d));
      o0 = _mm512_fmadd_ps(a, q8_to_ps(b->qs), o0);
      o1 = _mm512_fmadd_ps(a, q8_to_ps(b->qs + 16), o1);
    }
    _mm512_storeu_ps(out + i, o0);
    _mm512_storeu_ps(out + i + 16, o1);
  }
}

}  // namespace

FloatDotFn row_dot_f32act_avx512(GgmlType w) {
  switch (w) {
    case GgmlType::F32: return float_dot<dot_f32>;
    case GgmlType::F16: return float_dot<dot_half<false>>;
    case GgmlType::BF16: return float_dot<dot_half<true>>;
    case GgmlType::Q8_0: return dot_q8_0_f32;
    case GgmlType::Q4_K: return dot_q4_K_x16_avx512;
    default: return nullptr;
  }
}

RowsAxpyFn rows_axpy_avx512(GgmlType t) {
  switch (t) {
    case GgmlType::F16: return axpy_rows_half<false>;
    case GgmlType::BF16: return axpy_rows_half<true>;
    case GgmlType::Q8_0: return axpy_rows_q8_0;
    case GgmlType::Q4_K: return axpy_q4_K_y16_avx512;
    default: return nullptr;
  }
}

RowDotFn row_dot_avx512(GgmlType w) {
  switch (w) {
    case GgmlType::F32: return dot_f32;
    case GgmlType::F16: return dot_half<false>;
    case GgmlType::BF16: return dot_half<true>;
    case GgmlType::Q8_0: return dot_q8_0;
    // Q4_0/Q5_0: no AVX-512 version; the AVX2 kernels measured faster than one (bench_kernels,
    // Q5_0 9.7 vs 7.1 GB/s in cache), so row_dot_kernel falls through to them.
    case GgmlType::Q4_K: return dot_q4_K;
    case GgmlType::Q6_K: return dot_q6_K;
    default: return nullptr;
  }
}

}  // namespace qs
