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
// AMX-INT8 can run here: the CPU has AMX-TILE and AMX-INT8, the OS granted the tile state
// (arch_prctl, asked once), the CPU runs AVX-512 (the AMX kernels' epilogues use it), the active
// level is Avx512, and QIUSUO_AMX=0 is not set.
bool amx_usable();
// The active level's name, with "+amx" when the batched kernels use AMX (for reports).
const char* simd_summary();

}  // namespace qs
