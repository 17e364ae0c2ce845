// The values that trade speed on one host against another, in one place. The defaults were measured
// on the hosts docs/performance.md names; a few can be overridden from the environment for
// experiments (developer knobs, listed there). Structural values the kernels are compiled around
// are constexpr; the rest are read once, at first use.
#pragma once
#include <cstddef>
#include <cstdint>

namespace qs {

struct Tuning {
  // Bytes ahead of the read position the decode kernels prefetch (QIUSUO_PREFETCH; 0 turns it off).
  // 640 to 2560 measured alike in bench_kernels' grouped decode case on a 2-core Sapphire Rapids slice.
  size_t prefetch_bytes = 1280;
  // The Q4Kx16 decode kernel asks this much farther, in percent (Q4_K tg128 +2.6%, +8% from memory in
  // bench_kernels; the Q8x16 kernel was 2.5% slower at 3,072 bytes).
  int q4kx16_prefetch_percent = 240;
  // Batches of at least this many tokens convert other quantized formats to Q8x16 groups on the fly
  // (one conversion per 16-row group shared by the batch) at AVX-512.
  int64_t convert_min_tokens = 8;
  // Q5x16 converts (exactly) from this many tokens when there is no AMX to unpack into tiles.
  int64_t q5x16_convert_min_tokens = 12;
  // A one-token product of fewer weights than this runs on the calling thread (no pool handoff).
  int64_t single_thread_max_weights = 32768;
  // MLA attends with decompressed per-head K/V when at least this many queries of a sequence share
  // the keys (V2/V3 widths: the cost per key is n·H·(2·d_c + d_r) absorbed against ~H·(d_n+d_v)·d_c).
  int mla_decompress_min_queries = 32;
  // Reference mode (QIUSUO_ACTIVATIONS=f32): every product takes float activations on the file's weights
  // (no 8-bit rounding, no repacking), as the float64 goldens compute; for checking, not for speed.
  bool float_activations = false;
};

// The process's tuning (defaults, then the environment's overrides), read once.
const Tuning& tuning();

// 16-row groups a one-token (decode) kernel reads side by side, block by block: two read streams per
// thread keep more lines in flight (the hardware streamer runs ahead in every page being read). Q4_K
// bench model decode +2.5%; 3 or 4 streams measured 5% slower than one, though a bare read loop gains
// up to 20% from 4.
constexpr int kDecodeStreams = 2;

// Fewest 16-row groups a thread claims at once in a grouped product of n_tok tokens: two decode
// calls' worth for one token (the kernels read groups side by side), longer runs for batches (the
// AMX kernels prefetch the next group within a call).
constexpr int64_t min_claim_groups(int64_t n_tok) { return n_tok == 1 ? 2 * kDecodeStreams : 8; }

}  // namespace qs
