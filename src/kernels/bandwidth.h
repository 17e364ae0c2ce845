// Memory bandwidth measured on the engine's own threads: the roofline that decode speed is judged by.
#pragma once

namespace qs {

struct BandwidthResult {
  double triad_gbps = 0;  // STREAM triad a = b + s·c, counting 3 arrays of traffic
  double read_gbps = 0;   // pure streaming reads (what decode does to weights), best of 1-8 streams per thread
  // The roofline decode is judged by: whichever of the two this machine did faster.
  double roofline_gbps() const { return triad_gbps > read_gbps ? triad_gbps : read_gbps; }
};

// Uses arrays far larger than any cache (total_mib over the three arrays); best of `reps` runs.
BandwidthResult measure_bandwidth(int total_mib = 768, int reps = 5);

}  // namespace qs
