// Memory bandwidth measured on the engine's own threads: the roofline that decode speed is judged by.
#pragma once
#include <cstddef>

namespace qs {

struct BandwidthResult {
  double triad_gbps = 0;  // STREAM triad a = b + s·c, counting 3 arrays of traffic
  double read_gbps = 0;   // pure streaming reads (what decode does to weights), best of 1-8 streams per thread
  size_t buffer_bytes = 0;  // the three arrays together (the read test reads all of them)
  // The roofline decode is judged by: whichever of the two this machine did faster.
  double roofline_gbps() const { return triad_gbps > read_gbps ? triad_gbps : read_gbps; }
};

// STREAM's sizing rule: the arrays together at least 4× the last-level cache, or part of every pass
// is served by the cache and the "memory" bandwidth comes out too high (a 480 MiB-L3 machine read a
// 256 MiB array at 41 GB/s and a 4 GiB one at 32). At least 768 MiB, at most a quarter of the memory
// available now; QIUSUO_BANDWIDTH_MIB overrides (at least 16).
size_t bandwidth_buffer_bytes();

// Best of `reps` runs over total_bytes of arrays (0: bandwidth_buffer_bytes()).
BandwidthResult measure_bandwidth(size_t total_bytes = 0, int reps = 5);

}  // namespace qs
