// Scalar dequantization, one function per format, matching ggml's dequantize_row_* value for value.
#include <algorithm>
#include <cassert>
#include <cstring>

#include "tensor/fp16.h"
#include "tensor/quant_blocks.h"
#include "tensor/quants.h"

namespace qs {
namespace {

// Branch-light half -> float for whole rows (exact for every pattern, like fp16_to_f32): rebias the
// exponent, then fix up inf/NaN and zero/subnormals, which a float subtraction normalises exactly.
inline float half_to_float_fast(uint16_t h) {
  constexpr uint32_t kShiftedExp = 0x7c00u << 13;
  uint32_t o = static_cast<uint32_t>(h & 0x7fffu) << 13;
  const uint32_t exp = o & kShiftedExp;
  o += (127u - 15u) << 23;
  if (exp == kShiftedExp) {
    o += (128u - 16u) << 23;
  } else if (exp == 0) {
    o += 1u << 23;
    float f;
    std::memcpy(&f, &o, 4);
    f -= 6.103515625e-05f;  // 2^-14, the value of the implicit bit just added
    std::memcpy(&o, &f, 4);
  }
  o |= static_cast<uint32_t>(h & 0x8000u) << 16;
  float f;
  std::memcpy(&f, &o, 4);
  return f;
}

void deq_f32(const void* src, float* y, int64_t n) { std::memcpy(y, src, static_cast<size_t>(n) * sizeof(float)); }

void deq_f16(const void* src, float* y, int64_t n) {
  const auto* h = static_cast<const uint16_t*>(src);
  for (int64_t i = 0; i < n; ++i) y[i] = half_to_float_fast(h[i]);
}

void deq_bf16(const void* src, float* y, int64_t n) {
  const auto* h = static_cast<const uint16_t*>(src);
  for (int64_t i = 0; i < n; ++i) y[i] = bf16_to_f32(h[i]);
}

void deq_q4_0(const void* src, float* y, int64_t nb) {
  const auto* x = static_cast<const block_q4_0*>(src);
  for (int64_t i = 0; i < nb; ++i, y += QK4_0) {
    const float d = fp16_to_f32(x[i].d);
    for (int j = 0; j < QK4_0 / 2; ++j) {
      y[j] = static_cast<float>((x[i].qs[j] & 0x0F) - 8) * d;
      y[j + QK4_0 / 2] = static_cast<float>((x[i].qs[j] >> 4) - 8) * d;
    }
  }
}

void deq_q4_1(const void* src, float* y, int64_t nb) {
  const auto* x = static_cast<const block_q4_1*>(src);
  for (int64_t i = 0; i < nb; ++i, y += QK4_1) {
    const float d = fp16_to_f32(x[i].d);
    const float m = fp16_to_f32(x[i].m);
    for (int j = 0; j < QK4_1 / 2; ++j) {
      y[j] = static_cast<float>(x[i].qs[j] & 0x0F) * d + m;
      y[j + QK4_1 / 2] = static_cast<float>(x[i].qs[j] >> 4) * d + m;
    }
  }
}

inline uint32_t load_qh(const uint8_t* p) {
  uint32_t qh;
  std::memcpy(&qh, p, 4);  // little-endian on every target we build for, as in ggml
  return qh;
}

void deq_q5_0(const void* src, float* y, int64_t nb) {
  const auto* x = static_cast<const block_q5_0*>(src);
  for (int64_t i = 0; i < nb; ++i, y += QK5_0) {
    const float d = fp16_to_f32(x[i].d);
    const uint32_t qh = load_qh(x[i].qh);
    for (int j = 0; j < QK5_0 / 2; ++j) {
      const int h0 = static_cast<int>((qh >> j) << 4) & 0x10;
      const int h1 = static_cast<int>(qh >> (j + 12)) & 0x10;
      y[j] = static_cast<float>(((x[i].qs[j] & 0x0F) | h0) - 16) * d;
      y[j + QK5_0 / 2] = static_cast<float>(((x[i].qs[j] >> 4) | h1) - 16) * d;
    }
  }
}

void deq_q5_1(const void* src, float* y, int64_t nb) {
  const auto* x = static_cast<const block_q5_1*>(src);
  for (int64_t i = 0; i < nb; ++i, y += QK5_1) {
    const float d = fp16_to_f32(x[i].d);
    const float m = fp16_to_f32(x[i].m);
    const uint32_t qh = load_qh(x[i].qh);
    for (int j = 0; j < QK5_1 / 2; ++j) {
      const int h0 = static_cast<int>((qh >> j) << 4) & 0x10;
      const int h1 = static_cast<int>(qh >> (j + 12)) & 0x10;
      y[j] = static_cast<float>((x[i].qs[j] & 0x0F) | h0) * d + m;
      y[j + QK5_1 / 2] = static_cast<float>((x[i].qs[j] >> 4) | h1) * d + m;
    }
  }
}

void deq_q8_0(const void* src, float* y, int64_t nb) {
  const auto* x = static_cast<const block_q8_0*>(src);
  for (int64_t i = 0; i < nb; ++i, y += QK8_0) {
    const float d = fp16_to_f32(x[i].d);
    for (int j = 0; j < QK8_0; ++j) y[j] = static_cast<float>(x[i].qs[j]) * d;
  }
}

void deq_q8_1(const void* src, float* y, int64_t nb) {
  const auto* x = static_cast<const block_q8_1*>(src);
  for (int64_t i = 0; i < nb; ++i, y += QK8_1) {
    const float d = fp16_to_f32(x[i].d);
    for (int j = 0; j < QK8_1; ++j) y[j] = static_cast<float>(x[i].qs[j]) * d;
  }
}

// Q2_K: each 128-element half uses 32 bytes of qs; element 32*k + l of the half is bits 2k..2k+1 of
// byte l, and each run of 16 has its own scale/min nibble pair.
void deq_q2_K(const void* src, float* y, int64_t nb) {
  const auto* x = static_cast<const block_q2_K*>(src);
  for (int64_t i = 0; i < nb; ++i) {
    const float d = fp16_to_f32(x[i].d);
    const float dmin = fp16_to_f32(x[i].dmin);
    const uint8_t* q = x[i].qs;
    int is = 0;
    for (int half = 0; half < 2; ++half, q += 32) {
      for (int shift = 0; shift < 8; shift += 2) {
        for (int part = 0; part < 2; ++part) {
          const uint8_t sc = x[i].scales[is++];
          const float dl = d * static_cast<float>(sc & 0xF);
          const float ml = dmin * static_cast<float>(sc >> 4);
          const uint8_t* qp = q + 16 * part;
          for (int l = 0; l < 16; ++l) *y++ = dl * static_cast<float>((qp[l] >> shift) & 3) - ml;
        }
      }
    }
  }
}

// Q3_K: like Q2_K for the low bits; a clear hmask bit subtracts 4 (hmask bit k covers elements 32k..32k+31).
void deq_q3_K(const void* src, float* y, int64_t nb) {
  const auto* x = static_cast<const block_q3_K*>(src);
  for (int64_t i = 0; i < nb; ++i) {
    const float d_all = fp16_to_f32(x[i].d);
    const uint8_t* q = x[i].qs;
    const uint8_t* hm = x[i].hmask;
    uint8_t m = 1;
    int is = 0;
    for (int half = 0; half < 2; ++half, q += 32) {
      for (int shift = 0; shift < 8; shift += 2, m = static_cast<uint8_t>(m << 1)) {
        for (int part = 0; part < 2; ++part) {
          const float dl = d_all * static_cast<float>(q3k_scale(x[i].scales, is++));
          const int o = 16 * part;
          for (int l = 0; l < 16; ++l) {
            const int v = ((q[o + l] >> shift) & 3) - ((hm[o + l] & m) ? 0 : 4);
            *y++ = dl * static_cast<float>(v);
          }
        }
      }
    }
  }
}

// Q4_K: each 64-element chunk uses 32 bytes: low nibbles are its first 32 elements, high nibbles the next 32.
void deq_q4_K(const void* src, float* y, int64_t nb) {
  const auto* x = static_cast<const block_q4_K*>(src);
  for (int64_t i = 0; i < nb; ++i) {
    const float d = fp16_to_f32(x[i].d);
    const float dmin = fp16_to_f32(x[i].dmin);
    const uint8_t* q = x[i].qs;
    for (int is = 0; is < 8; is += 2, q += 32) {
      uint8_t sc, m;
      get_scale_min_k4(is, x[i].scales, sc, m);
      const float d1 = d * sc, m1 = dmin * m;
      get_scale_min_k4(is + 1, x[i].scales, sc, m);
      const float d2 = d * sc, m2 = dmin * m;
      for (int l = 0; l < 32; ++l) *y++ = d1 * static_cast<float>(q[l] & 0xF) - m1;
      for (int l = 0; l < 32; ++l) *y++ = d2 * static_cast<float>(q[l] >> 4) - m2;
    }
  }
}

// Q5_K: Q4_K plus a 5th bit from qh[l]: bit 2c for the low-nibble half of chunk c, bit 2c+1 for the high half.
void deq_q5_K(const void* src, float* y, int64_t nb) {
  const auto* x = static_cast<const block_q5_K*>(src);
  for (int64_t i = 0; i < nb; ++i) {
    const float d = fp16_to_f32(x[i].d);
    const float dmin = fp16_to_f32(x[i].dmin);
    const uint8_t* ql = x[i].qs;
    const uint8_t* qh = x[i].qh;
    uint8_t u1 = 1, u2 = 2;
    for (int is = 0; is < 8; is += 2, ql += 32) {
      uint8_t sc, m;
      get_scale_min_k4(is, x[i].scales, sc, m);
      const float d1 = d * sc, m1 = dmin * m;
      get_scale_min_k4(is + 1, x[i].scales, sc, m);
      const float d2 = d * sc, m2 = dmin * m;
      for (int l = 0; l < 32; ++l) *y++ = d1 * static_cast<float>((ql[l] & 0xF) + ((qh[l] & u1) ? 16 : 0)) - m1;
      for (int l = 0; l < 32; ++l) *y++ = d2 * static_cast<float>((ql[l] >> 4) + ((qh[l] & u2) ? 16 : 0)) - m2;
      u1 = static_cast<uint8_t>(u1 << 2);
      u2 = static_cast<uint8_t>(u2 << 2);
    }
  }
}

// Q6_K: per 128 elements, ql[l] / ql[l+32] low nibbles give elements l / l+32, high nibbles l+64 / l+96;
// qh[l] holds the top 2 bits of those four at bits 0, 2, 4, 6.
void deq_q6_K(const void* src, float* y, int64_t nb) {
  const auto* x = static_cast<const block_q6_K*>(src);
  for (int64_t i = 0; i < nb; ++i) {
    const float d = fp16_to_f32(x[i].d);
    const uint8_t* ql = x[i].ql;
    const uint8_t* qh = x[i].qh;
    const int8_t* sc = x[i].scales;
    for (int n = 0; n < QK_K; n += 128, y += 128, ql += 64, qh += 32, sc += 8) {
      for (int l = 0; l < 32; ++l) {
        const int is = l / 16;
        const int q1 = ((ql[l] & 0xF) | (((qh[l] >> 0) & 3) << 4)) - 32;
        const int q2 = ((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32;
        const int q3 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
        const int q4 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
        y[l] = d * sc[is + 0] * static_cast<float>(q1);
        y[l + 32] = d * sc[is + 2] * static_cast<float>(q2);
        y[l + 64] = d * sc[is + 4] * static_cast<float>(q3);
        y[l + 96] = d * sc[is + 6] * static_cast<float>(q4);
      }
    }
  }
}

void deq_q8_K(const void* src, float* y, int64_t nb) {
  const auto* x = static_cast<const block_q8_K*>(src);
  for (int64_t i = 0; i < nb; ++i, y += QK_K) {
    for (int j = 0; j < QK_K; ++j) y[j] = x[i].d * static_cast<float>(x[i].qs[j]);
  }
}

// Eight independent partial sums so the compiler can vectorise without reassociating (no -ffast-math).
struct DotAcc {
  float lane[8] = {};
  void add(const float* a, const float* b, int64_t n) {
    int64_t j = 0;
    for (; j + 8 <= n; j += 8) {
      for (int k = 0; k < 8; ++k) lane[k] += a[j + k] * b[j + k];
    }
    for (; j < n; ++j) lane[0] += a[j] * b[j];
  }
  float sum() const {
    return ((lane[0] + lane[4]) + (lane[1] + lane[5])) + ((lane[2] + lane[6]) + (lane[3] + lane[7]));
  }
};

}  // namespace

void dequantize_row(GgmlType t, const void* src, float* dst, int64_t n) {
  const int64_t bs = traits(t).block_size;
  assert(n % bs == 0);
  const int64_t nb = n / bs;
  switch (t) {
    case GgmlType::F32: return deq_f32(src, dst, nb);
    case GgmlType::F16: return deq_f16(src, dst, nb);
    case GgmlType::BF16: return deq_bf16(src, dst, nb);
    case GgmlType::Q4_0: return deq_q4_0(src, dst, nb);
    case GgmlType::Q4_1: return deq_q4_1(src, dst, nb);
    case GgmlType::Q5_0: return deq_q5_0(src, dst, nb);
    case GgmlType::Q5_1: return deq_q5_1(src, dst, nb);
    case GgmlType::Q8_0: return deq_q8_0(src, dst, nb);
    case GgmlType::Q8_1: return deq_q8_1(src, dst, nb);
    case GgmlType::Q2_K: return deq_q2_K(src, dst, nb);
    case GgmlType::Q3_K: return deq_q3_K(src, dst, nb);
    case GgmlType::Q4_K: return deq_q4_K(src, dst, nb);
    case GgmlType::Q5_K: return deq_q5_K(src, dst, nb);
    case GgmlType::Q6_K: return deq_q6_K(src, dst, nb);
    case GgmlType::Q8_K: return deq_q8_K(src, dst, nb);
    default: return dequantize_iq(t, src, dst, nb);  // the i-quants, ternary types and MXFP4
  }
}

float dot_row_f32(GgmlType t, const void* row, const float* x, int64_t n) {
  DotAcc acc;
  if (t == GgmlType::F32) {
    acc.add(static_cast<const float*>(row), x, n);
    return acc.sum();
  }
  constexpr int64_t kChunk = QK_K;  // a multiple of every block size
  float buf[kChunk];
  const size_t chunk_bytes = row_bytes(t, kChunk);
  const auto* p = static_cast<const uint8_t*>(row);
  for (int64_t i = 0; i < n; i += kChunk, p += chunk_bytes) {
    const int64_t m = std::min(kChunk, n - i);
    dequantize_row(t, p, buf, m);
    acc.add(buf, x + i, m);
  }
  return acc.sum();
}

}  // namespace qs
