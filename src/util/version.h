// The project's version, from CMake's project() (reported by --version and system_fingerprint).
#pragma once

#ifndef QIUSUO_VERSION
#error "QIUSUO_VERSION must be defined by the build (CMake's project version)"
#endif

namespace qs {
inline constexpr const char* kVersion = QIUSUO_VERSION;
}  // namespace qs
