#include "kernels/cache_rows.h"

#include <stdexcept>

#include "kernels/cpu_features.h"
#include "kernels/qdot.h"
#include "tensor/quants.h"

namespace qs {

const void* rows_query(const MatView& rows, const float* x, std::vector<uint8_t>& buf) {
  const ActFormat f = act_format(rows);
  if (!row_dot_kernel(rows) || f == ActFormat::F32) return x;  // no kernel: rows_dot_prepared_st dequantizes
  buf.resize(act_bytes(f, rows.cols));
  quantize_act(f, x, buf.data(), rows.cols);
  return buf.data();
}

void rows_dot_prepared_st(const MatView& rows, const void* query, float* y) {
  if (rows.layout != RowLayout::File) throw std::invalid_argument("cache rows are in the file layout");
  if (const RowDotFn fn = row_dot_kernel(rows)) return fn(rows.data, rows.row_stride, rows.rows, query, rows.cols, y);
  const auto* x = static_cast<const float*>(query);
  for (int64_t r = 0; r < rows.rows; ++r) y[r] = dot_row_f32(rows.type, rows.row(r), x, rows.cols);
}

void rows_dot_st(const MatView& rows, const float* x, float* y) {
  thread_local std::vector<uint8_t> buf;
  rows_dot_prepared_st(rows, rows_query(rows, x, buf), y);
}

void rows_to_float_st(const MatView& rows, int64_t r0, int64_t nr, float* out) {
  if (rows.layout != RowLayout::File) throw std::invalid_argument("cache rows are in the file layout");
  const RowsToFloatFn fn = active_simd_level() >= SimdLevel::Avx512 ? rows_to_float_avx512(rows.type) : nullptr;
  if (fn) return fn(rows.row(r0), rows.row_stride, nr, rows.cols, out);
  for (int64_t r = 0; r < nr; ++r) dequantize_row(rows.type, rows.row(r0 + r), out + r * rows.cols, rows.cols);
}

void rows_weighted_sum_st(const MatView& rows, const float* w, float* out, PrefetchTrail* next) {
  const RowsAxpyFn fn = rows_axpy_kernel(rows.type);
  if (!fn) throw std::invalid_argument("no weighted-sum kernel for this cache type");
  fn(rows.data, rows.row_stride, rows.rows, w, rows.cols, out, next);
}

}  // namespace qs
