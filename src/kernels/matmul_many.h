// Several independent small products in one parallel pass. Each product's activations are prepared
// once (shared between products that read the same input in the same format), then the rows of
// all of them are cut into 16-row pieces dealt out over the threads: one barrier for the lot
// instead of one per product, and no thread idles while another finishes a small matrix.
// This is MoE decode: the chosen experts' gate and up projections in one pass, their downs in another.
#pragma once
#include <cstdint>
#include <vector>

#include "tensor/mat_view.h"

namespace qs {

// Y[t·W.rows + r] = W[r] · X[t·W.cols ...] for t < n.
struct MatmulJob {
  MatView W;
  const float* X;
  int64_t n;
  float* Y;
};

void matmul_many(const std::vector<MatmulJob>& jobs);

}  // namespace qs
