// Software prefetch for the one-token (decode) kernels that unpack weights in registers: with a
// few more operations per byte than a plain Q8 stream, the hardware prefetcher alone left them
// ~20% below the memory's read speed; asking for the lines a fixed distance ahead closes that.
#pragma once
#include <algorithm>
#include <cstddef>
#include <cstdint>

#include "kernels/tuning.h"

namespace qs {

// Bytes ahead of the current read position (tuning.h).
inline size_t prefetch_distance() { return tuning().prefetch_bytes; }

// `lines` 64-byte lines from p into L1 (a hint: addresses past the data never fault).
inline void prefetch_lines(const void* p, int lines) {
  for (int l = 0; l < lines; ++l) __builtin_prefetch(static_cast<const char*>(p) + 64 * l, 0, 3);
}

// The start of the groups a decode call reads after this one (`next`, `groups` of them,
// group_bytes apart): their first head_lines lines — the grouped layouts' scales and the quants
// the running prefetch distance skips — asked for per_block lines at a time over this call's
// blocks (at block k, lines [k·per_block, (k+1)·per_block)). Without it each call began on demand
// misses: Q5x16 (scales at the head of a 15 KB group) +8–10% from memory, Q8x16 +4%, Q4Kx16 +3%
// in bench_kernels.
inline void prefetch_next_groups(const uint8_t* next, size_t group_bytes, int groups, int64_t k, int64_t per_block,
                                 int64_t head_lines) {
  for (int64_t l = k * per_block; l < std::min(head_lines, (k + 1) * per_block); ++l)
    for (int g = 0; g < groups; ++g) __builtin_prefetch(next + g * group_bytes + 64 * l, 0, 3);
}

// The region this thread reads next, when a kernel cannot see it: MLA's per-head products read
// 36–68 KB of rows per head and each head's first rows used to start on memory misses (the rows of
// head h+1 are not next to those of head h). The caller names the next head's rows before running
// head h; the kernels take a few lines of it per step (into L2), so it arrives while they compute.
// Q4_K decode: the per-head phase 119 → 103 µs per layer (sum of both threads' W_UK products 108 → 82).
struct PrefetchTrail {
  const uint8_t* next = nullptr;
  size_t left = 0;
};
// The trail over a view's rows (empty for an empty view).
inline PrefetchTrail trail_of(const uint8_t* data, size_t bytes) { return {data, data ? bytes : 0}; }

inline void prefetch_later_step(PrefetchTrail& t, int lines) {
  for (int l = 0; l < lines && t.left != 0; ++l) {
    __builtin_prefetch(t.next, 0, 1);
    const size_t step = std::min<size_t>(64, t.left);
    t.next += step;
    t.left -= step;
  }
}

// Rows a per-row kernel prefetches ahead: ~4.5 KB (16 rows of 512 Q4_K columns, 8 of Q8_0; one
// row ahead had left MLA's W_UV products at 70% of this speed in decode).
inline int64_t rows_ahead(size_t stride) { return std::max<int64_t>(1, static_cast<int64_t>(4608 / stride)); }

// Lines of one row a per-row kernel prefetches (rows of up to 1 KB whole).
inline int row_lines(size_t stride) { return static_cast<int>(std::min<size_t>(16, (stride + 63) / 64)); }

// `lines` of row r + ahead (at the same offset as `at`, a pointer into row r), or once that is past
// the last of the nr rows, the next lines of the trail.
inline void prefetch_row_ahead(const uint8_t* at, size_t stride, int64_t r, int64_t nr, int64_t ahead, int lines,
                               PrefetchTrail& trail) {
  if (r + ahead < nr) prefetch_lines(at + ahead * stride, lines);
  else prefetch_later_step(trail, lines);
}

}  // namespace qs
