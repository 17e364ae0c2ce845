// ASCII-only string helpers for names, headers and identifiers (not for user text: no Unicode rules).
#pragma once
#include <cstdlib>
#include <string>
#include <string_view>

namespace qs {

inline std::string ascii_lower(std::string s) {
  for (char& c : s)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return s;
}

inline std::string ascii_upper(std::string s) {
  for (char& c : s)
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  return s;
}

// Without leading and trailing spaces, tabs, CR and LF.
inline std::string trim_space(std::string_view s) {
  const size_t a = s.find_first_not_of(" \t\r\n");
  if (a == std::string_view::npos) return "";
  return std::string(s.substr(a, s.find_last_not_of(" \t\r\n") - a + 1));
}

// The environment variable's value, "" when unset.
inline std::string env_or_empty(const char* name) {
  const char* v = std::getenv(name);
  return v ? v : "";
}

}  // namespace qs
