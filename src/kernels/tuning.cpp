#include "kernels/tuning.h"

#include <algorithm>
#include <cstdlib>
#include <string>

namespace qs {

const Tuning& tuning() {
  static const Tuning t = [] {
    Tuning t;
    if (const char* env = std::getenv("QIUSUO_PREFETCH")) {
      const long v = std::atol(env);
      t.prefetch_bytes = v < 0 ? size_t{0} : static_cast<size_t>(std::min(v, 1L << 16));
    }
    if (const char* env = std::getenv("QIUSUO_ACTIVATIONS")) t.float_activations = std::string(env) == "f32";
    return t;
  }();
  return t;
}

}  // namespace qs
