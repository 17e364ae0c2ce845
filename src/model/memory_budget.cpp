#include "model/memory_budget.h"

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>

namespace qs {

namespace {

// A cgroup file holding a byte count; "max" or absurd values (v1 reports ~2^63 when unlimited) mean none.
uint64_t cgroup_value(const char* path) {
  std::ifstream in(path);
  std::string s;
  if (!(in >> s) || s.empty() || s == "max") return 0;
  char* end = nullptr;
  const unsigned long long v = std::strtoull(s.c_str(), &end, 10);
  if (*end != '\0' || v == 0 || v >= (1ull << 60)) return 0;
  return v;
}

std::atomic<bool> g_checks_off{false};

}  // namespace

uint64_t meminfo_bytes(const std::string& key) {
  std::ifstream in("/proc/meminfo");
  std::string k;
  uint64_t kib = 0;
  while (in >> k >> kib) {
    if (k == key) return kib * 1024;
    in.ignore(256, '\n');
  }
  return 0;
}

MemoryLimit memory_limit() {
  MemoryLimit lim{meminfo_bytes("MemTotal:"), "MemTotal"};
  auto take = [&](uint64_t b, const char* src) {
    if (b > 0 && (lim.bytes == 0 || b < lim.bytes)) lim = {b, src};
  };
  take(cgroup_value("/sys/fs/cgroup/memory.max"), "cgroup memory.max");
  take(cgroup_value("/sys/fs/cgroup/memory/memory.limit_in_bytes"), "cgroup memory.limit_in_bytes");
  if (const char* env = std::getenv("QIUSUO_MEMORY_LIMIT_MIB"); env && *env) {
    char* end = nullptr;
    const unsigned long long mib = std::strtoull(env, &end, 10);
    if (*end == '\0' && mib > 0 && mib < (1ull << 40)) take(mib << 20, "QIUSUO_MEMORY_LIMIT_MIB");
  }
  return lim;
}

bool memory_checks_enabled() {
  if (g_checks_off.load()) return false;
  const char* env = std::getenv("QIUSUO_NO_MEM_CHECK");
  return !(env && *env && std::string(env) != "0");
}

void disable_memory_checks() { g_checks_off.store(true); }

uint64_t MemoryNeed::total() const {
  uint64_t t = 0;
  for (const auto& p : parts) t = p.second > UINT64_MAX - t ? UINT64_MAX : t + p.second;
  return t;
}

std::string format_bytes(uint64_t b) {
  char buf[64];
  if (b >= (uint64_t{1} << 30)) std::snprintf(buf, sizeof buf, "%.2f GiB", static_cast<double>(b) / (1 << 30));
  else if (b >= (uint64_t{1} << 20)) std::snprintf(buf, sizeof buf, "%.0f MiB", static_cast<double>(b) / (1 << 20));
  else std::snprintf(buf, sizeof buf, "%.0f KiB", static_cast<double>(b) / 1024);
  return buf;
}

std::string MemoryNeed::describe() const {
  std::ostringstream s;
  s << format_bytes(total());
  if (!parts.empty()) {
    s << " (";
    for (size_t k = 0; k < parts.size(); ++k) s << (k ? " + " : "") << parts[k].first << " " << format_bytes(parts[k].second);
    s << ")";
  }
  return s.str();
}

void require_memory(const MemoryNeed& need, const std::string& label) {
  if (!memory_checks_enabled()) return;
  const MemoryLimit lim = memory_limit();
  if (lim.bytes == 0 || need.total() <= lim.bytes) return;
  throw ResourceError(label + ": needs " + need.describe() + " of memory, but the limit is " + format_bytes(lim.bytes) +
                      " (" + lim.source + "); use a smaller model, context (--ctx-size) or --parallel, or pass "
                      "--no-mem-check to try anyway");
}

}  // namespace qs
