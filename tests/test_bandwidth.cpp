// The bandwidth test behind the decode roofline: its arrays must be sized past the last-level cache.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <string>

#include "kernels/bandwidth.h"

namespace qs {
namespace {

constexpr size_t kMiB = size_t{1} << 20;

struct EnvGuard {  // restores QIUSUO_BANDWIDTH_MIB as it was
  const char* saved = std::getenv("QIUSUO_BANDWIDTH_MIB");
  std::string value = saved ? saved : "";
  ~EnvGuard() {
    if (saved) setenv("QIUSUO_BANDWIDTH_MIB", value.c_str(), 1);
    else unsetenv("QIUSUO_BANDWIDTH_MIB");
  }
};

TEST(Bandwidth, DefaultBufferIsFourTimesTheLastLevelCache) {
  EnvGuard g;
  unsetenv("QIUSUO_BANDWIDTH_MIB");
  const size_t bytes = bandwidth_buffer_bytes();
  const long llc = sysconf(_SC_LEVEL3_CACHE_SIZE) > 0 ? sysconf(_SC_LEVEL3_CACHE_SIZE) : sysconf(_SC_LEVEL2_CACHE_SIZE);
  const size_t quarter_free = static_cast<size_t>(sysconf(_SC_AVPHYS_PAGES)) * static_cast<size_t>(sysconf(_SC_PAGESIZE)) / 4;
  // Only a machine short of free memory may get less than the STREAM rule asks.
  if (quarter_free >= 4 * static_cast<size_t>(std::max(0L, llc)) + 768 * kMiB) {
    EXPECT_GE(bytes, 4 * static_cast<size_t>(std::max(0L, llc)));
    EXPECT_GE(bytes, 768 * kMiB);
  }
  EXPECT_LE(bytes, std::max<size_t>(64 * kMiB, quarter_free + 64 * kMiB));  // free memory moves a little
}

TEST(Bandwidth, EnvironmentOverridesTheSize) {
  EnvGuard g;
  setenv("QIUSUO_BANDWIDTH_MIB", "32", 1);
  EXPECT_EQ(bandwidth_buffer_bytes(), 32 * kMiB);
  setenv("QIUSUO_BANDWIDTH_MIB", "3", 1);  // too small to mean anything: raised to the floor
  EXPECT_EQ(bandwidth_buffer_bytes(), 16 * kMiB);
  setenv("QIUSUO_BANDWIDTH_MIB", "-7", 1);
  EXPECT_EQ(bandwidth_buffer_bytes(), 16 * kMiB);
  unsetenv("QIUSUO_BANDWIDTH_MIB");
  const size_t def = bandwidth_buffer_bytes();
  setenv("QIUSUO_BANDWIDTH_MIB", "64x", 1);  // not a number: ignored
  EXPECT_EQ(bandwidth_buffer_bytes(), def);
}

TEST(Bandwidth, MeasuresOverTheBufferItWasGiven) {
  const BandwidthResult r = measure_bandwidth(48 * kMiB, 1);
  EXPECT_LE(r.buffer_bytes, 48 * kMiB);
  EXPECT_GT(r.buffer_bytes, 48 * kMiB - 64);
  EXPECT_GT(r.triad_gbps, 0.0);
  EXPECT_GT(r.read_gbps, 0.0);
  EXPECT_EQ(r.roofline_gbps(), std::max(r.triad_gbps, r.read_gbps));
}

}  // namespace
}  // namespace qs
