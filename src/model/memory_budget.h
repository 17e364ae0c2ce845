// Up-front memory checks: before qiusuo maps a model or allocates KV caches it compares what they
// need with what the machine (or its cgroup) can give, and refuses with a message that says how
// much is needed — instead of being OOM-killed half-way or thrashing a mapped file from disk.
#pragma once
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

namespace qs {

class ResourceError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct MemoryLimit {
  uint64_t bytes = 0;  // 0: unknown (no check)
  std::string source;  // "MemTotal", "cgroup memory.max", "QIUSUO_MEMORY_LIMIT_MIB"
};

// The smallest of physical RAM, the cgroup limit (v2 memory.max, v1 memory.limit_in_bytes) and
// QIUSUO_MEMORY_LIMIT_MIB (for tests and for users who want to keep headroom).
MemoryLimit memory_limit();

// A /proc/meminfo field in bytes ("MemTotal:", "MemAvailable:"), 0 when absent.
uint64_t meminfo_bytes(const std::string& key);

// QIUSUO_NO_MEM_CHECK=1 turns every check off (the CLI's --no-mem-check sets it).
bool memory_checks_enabled();
void disable_memory_checks();

// A named list of what an operation will hold resident.
struct MemoryNeed {
  std::vector<std::pair<std::string, uint64_t>> parts;  // e.g. {"weights", n}, {"KV cache (4 × 4096 tokens)", n}
  MemoryNeed& add(std::string what, uint64_t bytes) {
    parts.emplace_back(std::move(what), bytes);
    return *this;
  }
  uint64_t total() const;
  std::string describe() const;  // "1.2 GiB (weights 1.0 GiB + KV cache ... 0.2 GiB)"
};

// Throws ResourceError("<label>: needs X (...) but the memory limit is Y (source); ...") when the
// need exceeds the limit; does nothing when checks are off or the limit is unknown.
void require_memory(const MemoryNeed& need, const std::string& label);

std::string format_bytes(uint64_t bytes);  // "812 MiB", "1.25 GiB"

}  // namespace qs
