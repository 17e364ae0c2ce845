#include "kernels/plan.h"

#include "kernels/cpu_features.h"
#include "kernels/q4k_x16.h"
#include "kernels/q5_x16.h"
#include "kernels/repack.h"
#include "kernels/tuning.h"

namespace qs {

namespace {

// The legacy and K-quant types, whose batches may run as Q8x16 groups converted on the fly. The
// i-quants, ternary types and MXFP4 are not converted: requantizing their codebook values to 8 bits
// and rounding the activations moved the UD-IQ1_S fixture's logits 7x further from the reference
// (expert choices flip) than their exact dequantized products.
bool converts_by_type(GgmlType t) {
  switch (t) {
    case GgmlType::Q4_0: case GgmlType::Q4_1: case GgmlType::Q5_0: case GgmlType::Q5_1: case GgmlType::Q8_0:
    case GgmlType::Q2_K: case GgmlType::Q3_K: case GgmlType::Q4_K: case GgmlType::Q5_K: case GgmlType::Q6_K:
      return true;
    default:
      return false;
  }
}

// Batches on other quantized formats run the Q8x16 kernel on 16-row groups converted on the fly (one
// dequantize + requantize per group, shared by every token of the batch). Requantizing a 4- or 5-bit
// weight to 8 bits adds ~1/30 of its own rounding error. Q4Kx16 has its own exact grouped kernels
// (AMX for batches) and is never converted. Q5x16's conversion is exact and cheap (no rounding, just
// unpacking): without AMX, large batches get it (the Q8x16 kernel then reads each weight once for 4
// tokens, unpacked once per group); with AMX, Q5x16's own kernel unpacks straight into its tiles.
bool converts_to_q8x16(const MatView& w, int64_t n) {
  if (active_simd_level() < SimdLevel::Avx512) return false;
  if (w.layout == RowLayout::Q5x16) return n >= tuning().q5x16_convert_min_tokens && !q5x16_gemm_amx();
  return n >= tuning().convert_min_tokens && w.layout == RowLayout::File && w.rows % 16 == 0 && w.cols % 32 == 0 &&
         converts_by_type(w.type);
}

ProductPlan grouped(ActFormat act, GemmFn gemm) {
  ProductPlan p;
  p.kind = ProductPlan::Kind::Grouped;
  p.act = act;
  p.gemm = gemm;
  return p;
}

}  // namespace

Storage plan_storage(const MatView& w, WeightUse use) {
  if (w.empty() || w.layout != RowLayout::File) return Storage::File;
  const bool simd = active_simd_level() >= SimdLevel::Avx2;
  if (use == WeightUse::PerHeadFloat) {
    // The float types', Q8_0's and Q4_K's (16-bit roundings, q4k_mla.h) float-activation kernels read
    // the file's type: exact and a half (Q8_0) or a quarter (Q4_K) of F16's bytes, which decode reads
    // for every token (the Q8_0 fixture's logits went from 0.21 to 0.023 RMS off the golden against
    // an F16 copy: small weight roundings flip expert choices there). Other quantized types become
    // F16 (re-rounding Q4_K to Q8_0 instead had moved its fixture from 0.12 to 0.21 RMS); so do
    // Q8_0/Q4_K below AVX-512, where they have only the scalar dequantize-then-dot fallback.
    const bool keeps_type = act_format(w.type) == ActFormat::F32 ||
                            (row_dot_f32act_kernel(w.type) && active_simd_level() >= SimdLevel::Avx512);
    if (!keeps_type) return Storage::WidenedF16;
    // Kept ones are copied to huge pages: decode reads every head's rows per token, and from 4 KiB
    // file pages that phase ran at a quarter of the memory's speed.
    return simd && w.type != GgmlType::F32 ? Storage::Copied : Storage::File;
  }
  if (!simd || w.type == GgmlType::F32) return Storage::File;
  if (tuning().float_activations) return Storage::Copied;  // grouped layouts have only 8-bit kernels
  // Q8_0 (with Q4_0), Q5_0 and Q4_K repack for the VNNI kernels; other types are copied as they are.
  return repack_worthwhile(w) ? Storage::Repacked : Storage::Copied;
}

ProductPlan plan_product(const MatView& w, int64_t n, Threading threading) {
  switch (w.layout) {
    case RowLayout::Q8x16: return grouped(ActFormat::Q8_32Split, q8x16_gemm_kernel());
    case RowLayout::Q4Kx16: return grouped(ActFormat::Q8_K, q4kx16_gemm_kernel());  // Q8_K: 256 per block, sums of 16
    case RowLayout::Q5x16:
      if (n > 1 && converts_to_q8x16(w, n)) break;
      return grouped(ActFormat::Q8_32Split, q5x16_gemm_kernel());  // rebuilds Q8x16's operands from 5 bits
    case RowLayout::File: break;
  }
  ProductPlan p;
  if (tuning().float_activations && w.layout == RowLayout::File) {  // reference mode: float activations only
    p.on_caller = n == 1;  // matvec_st; batches and matmul_many dequantize rows (the default kind)
    return p;
  }
  if (n > 1 && converts_to_q8x16(w, n)) {
    p.kind = ProductPlan::Kind::ConvertedGrouped;
    p.act = ActFormat::Q8_32Split;
    p.gemm = q8x16_gemm_kernel();
    return p;
  }
  if (n == 1 && threading == Threading::CallerIfSmall && w.rows * w.cols < tuning().single_thread_max_weights) {
    p.on_caller = true;  // matvec_st: the float-activation kernel, or dequantized rows
    if (row_dot_f32act_kernel(w.type)) {
      p.kind = ProductPlan::Kind::RowDot;
      p.act = ActFormat::F32;
    }
    return p;
  }
  if ((p.row = row_dot_kernel(w))) {
    p.kind = ProductPlan::Kind::RowDot;
    p.act = act_format(w);
  }
  return p;
}

}  // namespace qs
