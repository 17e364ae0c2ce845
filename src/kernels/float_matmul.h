// Products that keep the activations in float: the MLA latent's up-projections and the DSA indexer,
// where rounding activations to 8 bits would cost accuracy (the indexer's top-k selection flips on
// small score changes). The weights stay in any storable type and are converted to float as read.
#pragma once
#include <cstdint>

#include "tensor/mat_view.h"

namespace qs {

// Y[t][r] = W[r] · X[t] for t < n, on the pool; X rows have W.cols floats, Y rows W.rows floats.
// One token: row slices of W through the float-activation row kernels; more: 64 rows at a time
// converted to float and run through the attention score tile, a register-blocked float product.
void matmul_float_act(const MatView& W, const float* X, int n, float* Y);

}  // namespace qs
