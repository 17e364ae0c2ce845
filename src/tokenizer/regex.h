// A compiled PCRE2 pattern (UTF + UCP, JIT when available) used by the pre-tokenizers.
// Patterns are written in the Oniguruma dialect of tokenizer.json; what PCRE2 reads differently
// (\uHHHH, \UHHHHHHHH, and \s / \S, which in PCRE2 also cover U+180E) is rewritten before compiling.
#pragma once
#include <cstddef>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>

namespace qs {

class RegexError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class Regex {
 public:
  explicit Regex(const std::string& pattern);  // throws RegexError
  ~Regex();
  Regex(Regex&&) noexcept;
  Regex& operator=(Regex&&) noexcept;
  Regex(const Regex&) = delete;
  Regex& operator=(const Regex&) = delete;

  const std::string& pattern() const { return pattern_; }

  // Calls on_match(begin, end) for each successive non-overlapping, non-empty match in s, left to
  // right. Invalid UTF-8 in s never matches (and never fails): it is left between matches.
  void for_each_match(std::string_view s, const std::function<void(size_t, size_t)>& on_match) const;

 private:
  struct Impl;
  std::string pattern_;
  std::unique_ptr<Impl> impl_;
};

// Rewrites a pattern from Oniguruma to PCRE2 syntax with the same meaning (see above).
std::string onig_to_pcre2(const std::string& pattern);

}  // namespace qs
