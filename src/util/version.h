// The project's version, from CMake's project() (reported by --version and system_fingerprint).
#pragma once

namespace qs {
inline constexpr const char* kVersion = QIUSUO_VERSION;
}  // namespace qs
