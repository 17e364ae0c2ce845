// Scalar reference kernels: exact integer sums per block, then the float scales. The SIMD
// versions compute the same integers and differ only in the order of float additions.
#include <cstring>
#include <vector>

#include "kernels/grouped_q8.h"
#include "kernels/qdot.h"
#include "tensor/fp16.h"
#include "tensor/quant_blocks.h"
#include "tensor/quants.h"

namespace qs {

namespace {

void dot_f32(const uint8_t* w, size_t stride, int64_t nr, const void* act, int64_t n, float* out) {
  const auto* x = static_cast<const float*>(act);
  for (int64_t r = 0; r < nr; ++r) {
    const auto* row = reinterpret_cast<const float*>(w + r * stride);
    float s = 0.f;
    for (int64_t i = 0; i < n; ++i) s += row[i] * x[i];
    out[r] = s;
  }
}

template <float (*Cvt)(uint16_t)>
void dot_half(const uint8_t* w, size_t stride, int64_t nr, const void* act, int64_t n, float* out) {
  const auto* x = static_cast<const float*>(act);
  for (int64_t r = 0; r < nr; ++r) {
    const auto* row = reinterpret_cast<const uint16_t*>(w + r * stride);
    float s = 0.f;
    for (int64_t i = 0; i < n; ++i) s += Cvt(row[i]) * x[i];
    out[r] = s;
  }
}

void dot_q8_0(const uint8_t* w, size_t stride, int64_t nr, const void* act, int64_t n, float* out) {
  const auto* a = static_cast<const BlockQ8A*>(act);
  for (int64_t r = 0; r < nr; ++r) {
    const auto* b = reinterpret_cast<const block_q8_0*>(w + r * stride);
    float s = 0.f;
    for (int64_t k = 0; k < n / 32; ++k) {
      int32_t isum = 0;
      for (int i = 0; i < 32; ++i) isum += b[k].qs[i] * a[k].qs[i];
      s += fp16_to_f32(b[k].d) * a[k].d * static_cast<float>(isum);
    }
    out[r] = s;
  }
}

void dot_q4_0(const uint8_t* w, size_t stride, int64_t nr, const void* act, int64_t n, float* out) {
  const auto* a = static_cast<const BlockQ8A*>(act);
  for (int64_t r = 0; r < nr; ++r) {
    const auto* b = reinterpret_cast<const block_q4_0*>(w + r * stride);
    float s = 0.f;
    for (int64_t k = 0; k < n / 32; ++k) {
      int32_t isum = 0;
      for (int i = 0; i < 16; ++i) isum += (b[k].qs[i] & 0xF) * a[k].qs[i] + (b[k].qs[i] >> 4) * a[k].qs[i + 16];
      s += fp16_to_f32(b[k].d) * a[k].d * static_cast<float>(isum - 8 * a[k].sum);
    }
    out[r] = s;
  }
}

void dot_q5_0(const uint8_t* w, size_t stride, int64_t nr, const void* act, int64_t n, float* out) {
  const auto* a = static_cast<const BlockQ8A*>(act);
  for (int64_t r = 0; r < nr; ++r) {
    const auto* b = reinterpret_cast<const block_q5_0*>(w + r * stride);
    float s = 0.f;
    for (int64_t k = 0; k < n / 32; ++k) {
      uint32_t qh;
      std::memcpy(&qh, b[k].qh, 4);
      int32_t isum = 0;
      for (int i = 0; i < 16; ++i) {
        const int lo = (b[k].qs[i] & 0xF) | (((qh >> i) & 1) << 4);
        const int hi = (b[k].qs[i] >> 4) | (((qh >> (i + 16)) & 1) << 4);
        isum += lo * a[k].qs[i] + hi * a[k].qs[i + 16];
      }
      s += fp16_to_f32(b[k].d) * a[k].d * static_cast<float>(isum - 16 * a[k].sum);
    }
    out[r] = s;
  }
}

void dot_q4_K(const uint8_t* w, size_t stride, int64_t nr, const void* act, int64_t n, float* out) {
  const auto* a = static_cast<const block_q8_K*>(act);
  for (int64_t r = 0; r < nr; ++r) {
    const auto* b = reinterpret_cast<const block_q4_K*>(w + r * stride);
    float s = 0.f;
    for (int64_t k = 0; k < n / QK_K; ++k) {
      int32_t sumi = 0, summ = 0;
      for (int j = 0; j < 8; ++j) {
        uint8_t sc, m;
        get_scale_min_k4(j, b[k].scales, sc, m);
        const uint8_t* q = b[k].qs + 32 * (j / 2);
        const int8_t* y = a[k].qs + 32 * j;
        int32_t isum = 0;
        for (int i = 0; i < 32; ++i) isum += ((j & 1) ? (q[i] >> 4) : (q[i] & 0xF)) * y[i];
        sumi += sc * isum;
        summ += m * (a[k].bsums[2 * j] + a[k].bsums[2 * j + 1]);
      }
      s += a[k].d * (fp16_to_f32(b[k].d) * static_cast<float>(sumi) - fp16_to_f32(b[k].dmin) * static_cast<float>(summ));
    }
    out[r] = s;
  }
}

void dot_q6_K(const uint8_t* w, size_t stride, int64_t nr, const void* act, int64_t n, float* out) {
  const auto* a = static_cast<const block_q8_K*>(act);
  for (int64_t r = 0; r < nr; ++r) {
    const auto* b = reinterpret_cast<const block_q6_K*>(w + r * stride);
    float s = 0.f;
    for (int64_t k = 0; k < n / QK_K; ++k) {
      int32_t sumi = 0;
      for (int e16 = 0; e16 < 16; ++e16) {  // sub-block of 16 elements, scale index e16
        int32_t isum = 0;
        for (int i = 0; i < 16; ++i) {
          const int e = 16 * e16 + i, h = e / 128, quad = (e % 128) / 32, l = e % 32;
          const uint8_t ql = b[k].ql[64 * h + l + 32 * (quad & 1)];
          const int lo = quad < 2 ? (ql & 0xF) : (ql >> 4);
          const int hi = (b[k].qh[32 * h + l] >> (2 * quad)) & 3;
          isum += (lo | (hi << 4)) * a[k].qs[e];
        }
        sumi += b[k].scales[e16] * (isum - 32 * a[k].bsums[e16]);
      }
      s += fp16_to_f32(b[k].d) * a[k].d * static_cast<float>(sumi);
    }
    out[r] = s;
  }
}

// Generic weighted row sum: dequantize each row (any format), then accumulate.
void axpy_rows_generic(GgmlType t, const uint8_t* rows, size_t stride, int64_t nr, const float* wts, int64_t n, float* out) {
  thread_local std::vector<float> tmp;
  tmp.resize(static_cast<size_t>(n));
  for (int64_t r = 0; r < nr; ++r) {
    dequantize_row(t, rows + r * stride, tmp.data(), n);
    const float a = wts[r];
    for (int64_t i = 0; i < n; ++i) out[i] += a * tmp[i];
  }
}

template <GgmlType T>
void axpy_rows(const uint8_t* rows, size_t stride, int64_t nr, const float* wts, int64_t n, float* out, PrefetchTrail*) {
  axpy_rows_generic(T, rows, stride, nr, wts, n, out);
}

}  // namespace

GemmFn q8x16_gemm_scalar() { return grouped_q8::gemm_scalar<grouped_q8::Q8x16Layout>; }

namespace {

// Quantized rows against float activations: each row dequantized, then a float dot.
template <GgmlType T>
void dot_dequant_f32(const uint8_t* w, size_t stride, int64_t nr, const float* x, int64_t n, float* out, PrefetchTrail*) {
  thread_local std::vector<float> tmp;
  tmp.resize(static_cast<size_t>(n));
  for (int64_t r = 0; r < nr; ++r) {
    dequantize_row(T, w + r * stride, tmp.data(), n);
    float s = 0.f;
    for (int64_t i = 0; i < n; ++i) s += tmp[i] * x[i];
    out[r] = s;
  }
}

}  // namespace

FloatDotFn row_dot_f32act_scalar(GgmlType w) {
  // The quantized types MLA's up-projections are kept in (the model converts others to F16).
  switch (w) {
    case GgmlType::F32: return float_dot<dot_f32>;
    case GgmlType::F16: return float_dot<dot_half<fp16_to_f32>>;
    case GgmlType::BF16: return float_dot<dot_half<bf16_to_f32>>;
    case GgmlType::Q8_0: return dot_dequant_f32<GgmlType::Q8_0>;
    case GgmlType::Q4_K: return dot_dequant_f32<GgmlType::Q4_K>;
    default: return nullptr;
  }
}

RowsAxpyFn rows_axpy_scalar(GgmlType t) {
  switch (t) {
    case GgmlType::F32: return axpy_rows<GgmlType::F32>;
    case GgmlType::F16: return axpy_rows<GgmlType::F16>;
    case GgmlType::BF16: return axpy_rows<GgmlType::BF16>;
    case GgmlType::Q8_0: return axpy_rows<GgmlType::Q8_0>;
    case GgmlType::Q4_K: return axpy_rows<GgmlType::Q4_K>;
    default: return nullptr;
  }
}

RowDotFn row_dot_scalar(GgmlType w) {
  switch (w) {
    case GgmlType::F32: return dot_f32;
    case GgmlType::F16: return dot_half<fp16_to_f32>;
    case GgmlType::BF16: return dot_half<bf16_to_f32>;
    case GgmlType::Q8_0: return dot_q8_0;
    case GgmlType::Q4_0: return dot_q4_0;
    case GgmlType::Q5_0: return dot_q5_0;
    case GgmlType::Q4_K: return dot_q4_K;
    case GgmlType::Q6_K: return dot_q6_K;
    default: return nullptr;
  }
}

}  // namespace qs
