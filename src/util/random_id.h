// Random identifiers for API objects (chatcmpl-…, call_…, request ids): letters and digits from a
// per-thread generator seeded by the OS, so concurrent handlers never share state.
#pragma once
#include <cstdint>
#include <string>

namespace qs {

std::string random_id(const std::string& prefix, int length = 24);
// A random 64-bit value (default sampling seeds).
uint64_t random_u64();

}  // namespace qs
