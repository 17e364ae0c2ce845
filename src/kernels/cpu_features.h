// Which SIMD level this CPU runs, detected once at run time (one binary for every x86-64 CPU).
#pragma once

namespace qs {

enum class SimdLevel { Scalar = 0, Avx2 = 1, Avx512 = 2 };

// Avx2 needs AVX2+FMA+F16C; Avx512 needs F, BW, VL and VNNI (Ice Lake, Sapphire Rapids, Zen 4 and
// newer). QIUSUO_SIMD=scalar|avx2|avx512 lowers the level (never raises it past what the CPU has).
SimdLevel detected_simd_level();
SimdLevel active_simd_level();
void set_simd_level(SimdLevel level);  // clamped to what the CPU supports; for tests and benchmarks
const char* simd_level_name(SimdLevel level);
bool cpu_has_amx_int8();

}  // namespace qs
