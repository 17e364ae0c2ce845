// Codebooks and sign tables of ggml's i-quant and FP4 formats (ggml-common.h), reproduced exactly.
// Grid points pack one element per byte, element j in byte j counting from the least significant, which
// is ggml's in-memory (little-endian) order; read them with grid_byte().
#pragma once
#include <cstddef>
#include <cstdint>

namespace qs::iq {

inline constexpr size_t kKmaskIq2xsSize = 8;
inline constexpr size_t kKsignsIq2xsSize = 128;
inline constexpr size_t kIq2xxsGridSize = 256;
inline constexpr size_t kIq2xsGridSize = 512;
inline constexpr size_t kIq2sGridSize = 1024;
inline constexpr size_t kIq3xxsGridSize = 256;
inline constexpr size_t kIq3sGridSize = 512;
inline constexpr size_t kIq1sGridSize = 2048;
inline constexpr size_t kKvaluesIq4nlSize = 16;
inline constexpr size_t kKvaluesMxfp4Size = 16;

// Offset added to every IQ1_S / IQ1_M grid value, negated when the group's delta-sign bit is set.
inline constexpr float kIq1sDelta = 0.125f;

extern const uint8_t kmask_iq2xs[kKmaskIq2xsSize];     // 1 << j: the sign bit of element j of a group of 8
extern const uint8_t ksigns_iq2xs[kKsignsIq2xsSize];   // 7 stored sign bits -> 8 with even parity
extern const uint64_t iq2xxs_grid[kIq2xxsGridSize];    // IQ2_XXS: 8 magnitudes in {8, 25, 43} per point
extern const uint64_t iq2xs_grid[kIq2xsGridSize];      // IQ2_XS: 8 magnitudes in {8, 25, 43} per point
extern const uint64_t iq2s_grid[kIq2sGridSize];        // IQ2_S: 8 magnitudes in {8, 25, 43} per point
extern const uint32_t iq3xxs_grid[kIq3xxsGridSize];    // IQ3_XXS: 4 magnitudes in {4, 12, ..., 62} per point
extern const uint32_t iq3s_grid[kIq3sGridSize];        // IQ3_S: 4 magnitudes in {1, 3, ..., 15} per point
extern const uint64_t iq1s_grid[kIq1sGridSize];        // IQ1_S / IQ1_M: 8 values in {-1, 0, 1} (int8) per point
extern const int8_t kvalues_iq4nl[kKvaluesIq4nlSize];  // IQ4_NL / IQ4_XS non-linear levels
extern const int8_t kvalues_mxfp4[kKvaluesMxfp4Size];  // MXFP4: E2M1 values times 2

// Byte j (0 = least significant) of a grid point: element j of the point.
constexpr uint8_t grid_byte(uint64_t point, int j) { return static_cast<uint8_t>(point >> (8 * j)); }

}  // namespace qs::iq
