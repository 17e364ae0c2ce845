#include "kernels/qdot.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <stdexcept>

#include "tensor/quant_blocks.h"
#include "tensor/quants.h"

namespace qs {

ActFormat act_format(GgmlType w) {
  switch (w) {
    case GgmlType::F32: case GgmlType::F16: case GgmlType::BF16:
      return ActFormat::F32;
    case GgmlType::Q8_0: case GgmlType::Q4_0: case GgmlType::Q5_0:
      return ActFormat::Q8_32;
    case GgmlType::Q4_K: case GgmlType::Q6_K:
      return ActFormat::Q8_K;
    default:
      return ActFormat::None;
  }
}

ActFormat act_format(const MatView& w) {
  return w.layout == RowLayout::Q8x16 || w.layout == RowLayout::Q5x16 ? ActFormat::Q8_32Split : act_format(w.type);
}

size_t act_bytes(ActFormat f, int64_t n) {
  switch (f) {
    case ActFormat::Q8_32Split: return static_cast<size_t>(n) + static_cast<size_t>(n / 32) * 8;
    case ActFormat::F32: return static_cast<size_t>(n) * sizeof(float);
    case ActFormat::Q8_32: return static_cast<size_t>(n / 32) * sizeof(BlockQ8A);
    case ActFormat::Q8_K: return static_cast<size_t>(n / QK_K) * sizeof(block_q8_K);
    case ActFormat::None: return 0;
  }
  return 0;
}

namespace {

void quantize_q8a(const float* x, BlockQ8A* y, int64_t nb) {
  for (int64_t b = 0; b < nb; ++b, x += 32) {
    float amax = 0.f;
    for (int i = 0; i < 32; ++i) amax = std::max(amax, std::fabs(x[i]));
    const float d = amax / 127.f;
    const float id = d > 0.f ? 1.f / d : 0.f;
    int32_t sum = 0;
    for (int i = 0; i < 32; ++i) {
      const int q = static_cast<int>(std::nearbyint(x[i] * id));  // |q| <= 127
      y[b].qs[i] = static_cast<int8_t>(q);
      sum += q;
    }
    y[b].d = d;
    y[b].sum = sum;
  }
}

}  // namespace

void quantize_act(ActFormat f, const float* x, void* dst, int64_t n) {
  switch (f) {
    case ActFormat::F32:
      std::copy(x, x + n, static_cast<float*>(dst));
      return;
    case ActFormat::Q8_32:
      if (n % 32) throw std::invalid_argument("Q8 activation length must be a multiple of 32");
      if (active_simd_level() >= SimdLevel::Avx512) return quant_act_q8a_avx512()(x, dst, n);
      quantize_q8a(x, static_cast<BlockQ8A*>(dst), n / 32);
      return;
    case ActFormat::Q8_K:
      if (n % QK_K) throw std::invalid_argument("Q8_K activation length must be a multiple of 256");
      if (active_simd_level() >= SimdLevel::Avx512) return quant_act_q8k_avx512()(x, dst, n);
      quantize_row(GgmlType::Q8_K, x, dst, n);
      return;
    case ActFormat::Q8_32Split: {
      if (n % 32) throw std::invalid_argument("Q8 activation length must be a multiple of 32");
      if (active_simd_level() >= SimdLevel::Avx512) return quant_act_q8split_avx512()(x, dst, n);
      auto* qs = static_cast<int8_t*>(dst);
      auto* d = reinterpret_cast<float*>(qs + n);
      auto* sum = reinterpret_cast<int32_t*>(d + n / 32);
      BlockQ8A b;
      for (int64_t k = 0; k < n / 32; ++k) {
        quantize_q8a(x + 32 * k, &b, 1);
        std::memcpy(qs + 32 * k, b.qs, 32);
        d[k] = b.d;
        sum[k] = b.sum;
      }
      return;
    }
    case ActFormat::None:
      throw std::invalid_argument("no activation format for this weight type");
  }
}

RowDotFn row_dot_kernel(const MatView& w, SimdLevel level) {
  if (w.layout != RowLayout::File) return nullptr;  // grouped layouts: q8x16_, q4kx16_, q5x16_gemm_kernel
  return row_dot_kernel(w.type, level);
}

GemmFn q8x16_gemm_kernel(SimdLevel level) {
  if (level < SimdLevel::Avx512) return q8x16_gemm_scalar();
  if (GemmFn amx = q8x16_gemm_amx()) return amx;
  return q8x16_gemm_avx512();
}

RowDotFn row_dot_kernel(GgmlType w, SimdLevel level) {
  RowDotFn fn = nullptr;
  if (level >= SimdLevel::Avx512) fn = row_dot_avx512(w);
  if (!fn && level >= SimdLevel::Avx2) fn = row_dot_avx2(w);
  if (!fn) fn = row_dot_scalar(w);
  return fn;
}

FloatDotFn row_dot_f32act_kernel(GgmlType w, SimdLevel level) {
  FloatDotFn fn = nullptr;
  if (level >= SimdLevel::Avx512) fn = row_dot_f32act_avx512(w);
  if (!fn && level >= SimdLevel::Avx2) fn = row_dot_f32act_avx2(w);
  if (!fn) fn = row_dot_f32act_scalar(w);
  return fn;
}

RowsAxpyFn rows_axpy_kernel(GgmlType t, SimdLevel level) {
  RowsAxpyFn fn = nullptr;
  if (level >= SimdLevel::Avx512) fn = rows_axpy_avx512(t);
  if (!fn) fn = rows_axpy_scalar(t);
  return fn;
}

}  // namespace qs
