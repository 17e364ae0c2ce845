// How a weight matrix is kept and multiplied, decided in one place: at load, how it is stored
// (plan_storage, applied by WeightStore); per product, which kernel and activation format serve n
// tokens (plan_product). The product entry points (matmul.h, matmul_many.h) and the model's weight
// store ask here instead of branching on layouts and SIMD levels themselves.
#pragma once
#include <cstdint>

#include "kernels/qdot.h"
#include "tensor/mat_view.h"

namespace qs {

// What a weight is used for: most are products over a batch with 8-bit activations; MLA's per-head
// up-projections take float activations (rounding the latent to 8 bits costs accuracy there).
enum class WeightUse { Product, PerHeadFloat };

// How a weight is kept in memory after load.
enum class Storage {
  File,        // mmapped as in the file
  Repacked,    // into a 16-row grouped layout for the VNNI kernels, at the file's size (repack.h)
  Copied,      // the file's rows copied to huge anonymous pages (fewer TLB misses when streaming)
  WidenedF16,  // converted to F16: a per-head float product on a type without a float-activation kernel
};
Storage plan_storage(const MatView& w, WeightUse use);

// Whether a one-token product of a small matrix may run on the calling thread (matvec) or always
// goes to the pool (matmul_many, which parallelises over many products itself).
enum class Threading { Pool, CallerIfSmall };

// The kernel that multiplies one weight by n tokens.
struct ProductPlan {
  enum class Kind {
    Grouped,           // the grouped layout's own kernel (Q8x16, Q4Kx16, Q5x16): gemm
    ConvertedGrouped,  // 16-row groups converted to Q8x16 on the fly, shared by the batch: gemm
    RowDot,            // a row-dot kernel on the file layout, token by token: row
    Dequantize,        // no kernel: rows dequantized to floats, then float dots
  } kind = Kind::Dequantize;
  ActFormat act = ActFormat::None;
  GemmFn gemm = nullptr;
  RowDotFn row = nullptr;   // RowDot on the pool
  bool on_caller = false;  // small one-token product: on the calling thread with float activations (matvec_st)
};
ProductPlan plan_product(const MatView& w, int64_t n_tok, Threading threading);

}  // namespace qs
