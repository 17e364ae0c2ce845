// AVX2 + FMA + F16C row dot kernels (Haswell and newer, Zen). Per-function target attributes keep
// the rest of the binary baseline x86-64.
#include <immintrin.h>

#include <cstring>

#include "kernels/qdot.h"
#include "tensor/fp16.h"
#include "tensor/quant_blocks.h"
#include "kernels/target.h"


namespace qs {

namespace {

// Hardware half->float (F16C); the portable fp16_to_f32 is far too slow for per-block scales.
QS_TARGET_AVX2 inline float h2f(uint16_t h) { return _cvtsh_ss(h); }

QS_TARGET_AVX2 inline float hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

QS_TARGET_AVX2 inline __m256i load256(const void* p) { return _mm256_loadu_si256(static_cast<const __m256i*>(p)); }

// Σ of unsigned×signed byte products into 8 int32 lanes (pairs can't saturate: |u|·|s|·2 < 2^15 here).
QS_TARGET_AVX2 inline __m256i dot_u8s8(__m256i u, __m256i s) {
  return _mm256_madd_epi16(_mm256_maddubs_epi16(u, s), _mm256_set1_epi16(1));
}

QS_TARGET_AVX2 void dot_f32(const uint8_t* w, size_t stride, int64_t nr, const void* act, int64_t n, float* out) {
  const auto* x = static_cast<const float*>(act);
  for (int64_t r = 0; r < nr; ++r) {
    const auto* row = reinterpret_cast<const float*>(w + r * stride);
    __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps();
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
      a0 = _mm256_fmadd_ps(_mm256_loadu_ps(row + i), _mm256_loadu_ps(x + i), a0);
      a1 = _mm256_fmadd_ps(_mm256_loadu_ps(row + i + 8), _mm256_loadu_ps(x + i + 8), a1);
    }
    float s = hsum(_mm256_add_ps(a0, a1));
    for (; i < n; ++i) s += row[i] * x[i];
    out[r] = s;
  }
}

template <bool kBf16>
QS_TARGET_AVX2 inline __m256 load_half(const uint16_t* p) {
  const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
  if constexpr (kBf16) return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(v), 16));
  else return _mm256_cvtph_ps(v);
}

template <bool kBf16>
QS_TARGET_AVX2 void dot_half(const uint8_t* w, size_t stride, int64_t nr, const void* act, int64_t n, float* out) {
  const auto* x = static_cast<const float*>(act);
  for (int64_t r = 0; r < nr; ++r) {
    const auto* row = reinterpret_cast<const uint16_t*>(w + r * stride);
    __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps();
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
      a0 = _mm256_fmadd_ps(load_half<kBf16>(row + i), _mm256_loadu_ps(x + i), a0);
      a1 = _mm256_fmadd_ps(load_half<kBf16>(row + i + 8), _mm256_loadu_ps(x + i + 8), a1);
    }
    float s = hsum(_mm256_add_ps(a0, a1));
    for (; i < n; ++i) s += (kBf16 ? bf16_to_f32(row[i]) : h2f(row[i])) * x[i];
    out[r] = s;
  }
}

QS_TARGET_AVX2 void dot_q8_0(const uint8_t* w, size_t stride, int64_t nr, const void* act, int64_t n, float* out) {
  const auto* a = static_cast<const BlockQ8A*>(act);
  for (int64_t r = 0; r < nr; ++r) {
    const auto* b = reinterpret_cast<const block_q8_0*>(w + r * stride);
    __m256 acc = _mm256_setzero_ps();
    for (int64_t k = 0; k < n / 32; ++k) {
      const __m256i q = load256(b[k].qs), x = load256(a[k].qs);
      const __m256i p = dot_u8s8(_mm256_sign_epi8(q, q), _mm256_sign_epi8(x, q));
      acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(p), _mm256_set1_ps(h2f(b[k].d) * a[k].d), acc);
    }
    out[r] = hsum(acc);
  }
}

QS_TARGET_AVX2 inline __m256i unpack_nibbles16(const uint8_t* q) {
  const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(q));
  const __m128i m4 = _mm_set1_epi8(0x0F);
  return _mm256_set_m128i(_mm_and_si128(_mm_srli_epi16(v, 4), m4), _mm_and_si128(v, m4));
}

// Bit j of a 32-bit mask -> byte j = 0xFF.
QS_TARGET_AVX2 inline __m256i bytes_from_bits(uint32_t bits) {
  const __m256i shuf = _mm256_setr_epi64x(0x0000000000000000, 0x0101010101010101, 0x0202020202020202, 0x0303030303030303);
  const __m256i v = _mm256_shuffle_epi8(_mm256_set1_epi32(static_cast<int>(bits)), shuf);
  const __m256i bit = _mm256_set1_epi64x(static_cast<long long>(0x8040201008040201ull));
  return _mm256_cmpeq_epi8(_mm256_and_si256(v, bit), bit);
}

template <bool kFive>
QS_TARGET_AVX2 void dot_q4q5_0(const uint8_t* w, size_t stride, int64_t nr, const void* act, int64_t n, float* out) {
  const auto* a = static_cast<const BlockQ8A*>(act);
  constexpr int kOff = kFive ? 16 : 8;
  for (int64_t r = 0; r < nr; ++r) {
    const uint8_t* row = w + r * stride;
    __m256 acc = _mm256_setzero_ps();
    float corr = 0.f;
    for (int64_t k = 0; k < n / 32; ++k) {
      __m256i q;
      uint16_t dh;
      if constexpr (kFive) {
        const auto* b = reinterpret_cast<const block_q5_0*>(row) + k;
        uint32_t qh;
        std::memcpy(&qh, b->qh, 4);
        q = _mm256_or_si256(unpack_nibbles16(b->qs), _mm256_and_si256(bytes_from_bits(qh), _mm256_set1_epi8(0x10)));
        dh = b->d;
      } else {
        const auto* b = reinterpret_cast<const block_q4_0*>(row) + k;
        q = unpack_nibbles16(b->qs);
        dh = b->d;
      }
      const float s = h2f(dh) * a[k].d;
      acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(dot_u8s8(q, load256(a[k].qs))), _mm256_set1_ps(s), acc);
      corr += kOff * s * static_cast<float>(a[k].sum);
    }
    out[r] = hsum(acc) - corr;
  }
}

QS_TARGET_AVX2 void dot_q4_K(const uint8_t* w, size_t stride, int64_t nr, const void* act, int64_t n, float* out) {
  const auto* a = static_cast<const block_q8_K*>(act);
  const __m256i m4 = _mm256_set1_epi8(0x0F);
  for (int64_t r = 0; r < nr; ++r) {
    const auto* b = reinterpret_cast<const block_q4_K*>(w + r * stride);
    __m256 acc = _mm256_setzero_ps();
    float corr = 0.f;
    for (int64_t k = 0; k < n / QK_K; ++k) {
      uint8_t sc[8], mn[8];
      for (int j = 0; j < 8; ++j) get_scale_min_k4(j, b[k].scales, sc[j], mn[j]);
      __m256i isum = _mm256_setzero_si256();
      for (int c = 0; c < 4; ++c) {
        const __m256i q = load256(b[k].qs + 32 * c);
        const __m256i lo = _mm256_maddubs_epi16(_mm256_and_si256(q, m4), load256(a[k].qs + 64 * c));
        const __m256i hi = _mm256_maddubs_epi16(_mm256_and_si256(_mm256_srli_epi16(q, 4), m4), load256(a[k].qs + 64 * c + 32));
        isum = _mm256_add_epi32(isum, _mm256_madd_epi16(lo, _mm256_set1_epi16(sc[2 * c])));
        isum = _mm256_add_epi32(isum, _mm256_madd_epi16(hi, _mm256_set1_epi16(sc[2 * c + 1])));
      }
      acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(isum), _mm256_set1_ps(a[k].d * h2f(b[k].d)), acc);
      int32_t summ = 0;
      for (int j = 0; j < 8; ++j) summ += mn[j] * (a[k].bsums[2 * j] + a[k].bsums[2 * j + 1]);
      corr += a[k].d * h2f(b[k].dmin) * static_cast<float>(summ);
    }
    out[r] = hsum(acc) - corr;
  }
}

QS_TARGET_AVX2 void dot_q6_K(const uint8_t* w, size_t stride, int64_t nr, const void* act, int64_t n, float* out) {
  const auto* a = static_cast<const block_q8_K*>(act);
  const __m256i m4 = _mm256_set1_epi8(0x0F), m2 = _mm256_set1_epi8(0x03);
  for (int64_t r = 0; r < nr; ++r) {
    const auto* b = reinterpret_cast<const block_q6_K*>(w + r * stride);
    __m256 acc = _mm256_setzero_ps();
    float corr = 0.f;
    for (int64_t k = 0; k < n / QK_K; ++k) {
      const int8_t* sc = b[k].scales;
      __m256i isum = _mm256_setzero_si256();
      for (int h = 0; h < 2; ++h) {
        const __m256i qh = load256(b[k].qh + 32 * h);
        const __m256i ql0 = load256(b[k].ql + 64 * h), ql1 = load256(b[k].ql + 64 * h + 32);
        const __m256i q[4] = {
            _mm256_or_si256(_mm256_and_si256(ql0, m4), _mm256_slli_epi16(_mm256_and_si256(qh, m2), 4)),
            _mm256_or_si256(_mm256_and_si256(ql1, m4), _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 2), m2), 4)),
            _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(ql0, 4), m4),
                            _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 4), m2), 4)),
            _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(ql1, 4), m4),
                            _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 6), m2), 4)),
        };
        for (int quad = 0; quad < 4; ++quad) {
          const int j = 8 * h + 2 * quad;  // scales of this quadrant's two halves of 16
          const __m256i p16 = _mm256_maddubs_epi16(q[quad], load256(a[k].qs + 128 * h + 32 * quad));
          const __m256i s16 = _mm256_set_m128i(_mm_set1_epi16(sc[j + 1]), _mm_set1_epi16(sc[j]));
          isum = _mm256_add_epi32(isum, _mm256_madd_epi16(p16, s16));
        }
      }
      const float d = a[k].d * h2f(b[k].d);
      acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(isum), _mm256_set1_ps(d), acc);
      int32_t s = 0;
      for (int j = 0; j < 16; ++j) s += sc[j] * a[k].bsums[j];
      corr += d * 32.f * static_cast<float>(s);
    }
    out[r] = hsum(acc) - corr;
  }
}

}  // namespace

FloatDotFn row_dot_f32act_avx2(GgmlType w) {
  switch (w) {
    case GgmlType::F32: return float_dot<dot_f32>;
    case GgmlType::F16: return float_dot<dot_half<false>>;
    case GgmlType::BF16: return float_dot<dot_half<true>>;
    default: return nullptr;
  }
}

RowDotFn row_dot_avx2(GgmlType w) {
  switch (w) {
    case GgmlType::F32: return dot_f32;
    case GgmlType::F16: return dot_half<false>;
    case GgmlType::BF16: return dot_half<true>;
    case GgmlType::Q8_0: return dot_q8_0;
    case GgmlType::Q4_0: return dot_q4q5_0<false>;
    case GgmlType::Q5_0: return dot_q4q5_0<true>;
    case GgmlType::Q4_K: return dot_q4_K;
    case GgmlType::Q6_K: return dot_q6_K;
    default: return nullptr;
  }
}

}  // namespace qs
