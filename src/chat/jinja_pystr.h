// Python str behaviour on UTF-8 std::strings: code points, repr, float repr and the str methods templates use.
#pragma once
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace qs::jinja::pystr {

// UTF-8 (invalid bytes decode as themselves so nothing is ever lost or thrown).
uint32_t decode(std::string_view s, size_t& i);
void append_utf8(std::string& out, uint32_t cp);
std::vector<uint32_t> code_points(std::string_view s);
std::string from_code_points(const std::vector<uint32_t>& cps, size_t begin, size_t end);
size_t length(std::string_view s);  // in code points, like len(str)

// Appends the parts in order (avoids GCC 12's false -Wrestrict on chained "lit" + std::string).
std::string concat(std::initializer_list<std::string_view> parts);

bool is_space(uint32_t cp);  // str.isspace
uint32_t to_lower(uint32_t cp);
uint32_t to_upper(uint32_t cp);

std::string float_repr(double v);  // repr(float): shortest round-trip, Python's layout
std::string repr(std::string_view s);

std::string lower(std::string_view s);
std::string upper(std::string_view s);
std::string title(std::string_view s);       // str.title
std::string capitalize(std::string_view s);  // str.capitalize
std::string strip(std::string_view s, const std::optional<std::string>& chars, bool left, bool right);
std::vector<std::string> split(std::string_view s, const std::optional<std::string>& sep, int64_t maxsplit);
std::vector<std::string> rsplit(std::string_view s, const std::optional<std::string>& sep, int64_t maxsplit);
std::vector<std::string> splitlines(std::string_view s, bool keepends);
std::string replace(std::string_view s, std::string_view old, std::string_view repl, int64_t count,
                    size_t max_len = SIZE_MAX);
int64_t count(std::string_view s, std::string_view sub);
int64_t find(std::string_view s, std::string_view sub, bool from_right);  // code-point index or -1

}  // namespace qs::jinja::pystr
