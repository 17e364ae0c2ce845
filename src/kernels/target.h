// Function attributes for the SIMD levels chosen at run time (cpu_features.h): each kernel file is
// compiled for the baseline x86-64 and marks its functions with the level they need, so one binary
// runs on AVX2-only and AVX-512 machines alike. One place, so every kernel of a level asks for the
// same instructions.
#pragma once

// AVX2 with FMA and F16C (Haswell and later, every Zen).
#define QS_TARGET_AVX2 __attribute__((target("avx2,fma,f16c")))
// AVX-512 F/VL with AVX2 and FMA (float kernels: exp, attention tiles).
#define QS_TARGET_AVX512F __attribute__((target("avx512f,avx512vl,avx2,fma")))
// AVX-512 with BW and VNNI (integer dot products; Ice Lake, Sapphire Rapids, Zen 4).
#define QS_TARGET_AVX512_VNNI __attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c")))
// AMX tiles with INT8 (Sapphire Rapids and later), on top of the VNNI level.
#define QS_TARGET_AMX __attribute__((target("amx-tile,amx-int8,avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c")))
