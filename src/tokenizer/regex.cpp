#include "tokenizer/regex.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <cctype>

#include "tokenizer/utf8.h"

namespace qs {

struct Regex::Impl {
  pcre2_code* code = nullptr;
  ~Impl() {
    if (code) pcre2_code_free(code);
  }
};

namespace {

// One match-data block per thread: pcre2_match needs scratch space and allocating it per call
// would dominate the cost of matching short pieces.
struct MatchData {
  pcre2_match_data* md = pcre2_match_data_create(4, nullptr);
  ~MatchData() { pcre2_match_data_free(md); }
};

pcre2_match_data* thread_match_data() {
  thread_local MatchData m;
  return m.md;
}

bool all_hex(const std::string& s, size_t at, size_t n) {
  if (at + n > s.size()) return false;
  for (size_t k = 0; k < n; ++k)
    if (!std::isxdigit(static_cast<unsigned char>(s[at + k]))) return false;
  return true;
}

}  // namespace

// Oniguruma's Unicode \s: TAB..CR, NEL and the Z categories. PCRE2's \s also takes U+180E
// (MONGOLIAN VOWEL SEPARATOR, a format character since Unicode 6.3), so \s is spelled out.
constexpr const char* kOnigSpace = "\\t\\n\\x0B\\f\\r\\x{85}\\p{Z}";

std::string onig_to_pcre2(const std::string& p) {
  std::string out;
  out.reserve(p.size() + 32);
  bool in_class = false;
  for (size_t i = 0; i < p.size(); ++i) {
    const char c = p[i];
    if (c == '\\' && i + 1 < p.size()) {
      const char d = p[i + 1];
      const size_t n = d == 'u' ? 4 : d == 'U' ? 8 : 0;
      if (n && all_hex(p, i + 2, n)) {
        out += "\\x{" + p.substr(i + 2, n) + "}";
        i += 1 + n;
        continue;
      }
      if (d == 's') out += in_class ? std::string(kOnigSpace) : "[" + std::string(kOnigSpace) + "]";
      else if (d == 'S' && !in_class) out += "[^" + std::string(kOnigSpace) + "]";
      else out += {c, d};  // any other escape (including "\\\\") stays one unit
      ++i;
      continue;
    }
    if (!in_class && c == '[') {
      in_class = true;
      out.push_back(c);
      if (i + 1 < p.size() && p[i + 1] == '^') out.push_back(p[++i]);
      if (i + 1 < p.size() && p[i + 1] == ']') out.push_back(p[++i]);  // a leading ']' is literal
      continue;
    }
    if (in_class && c == '[' && i + 1 < p.size() && p[i + 1] == ':') {  // [:alpha:] inside a class
      const size_t e = p.find(":]", i + 2);
      if (e != std::string::npos) {
        out.append(p, i, e + 2 - i);
        i = e + 1;
        continue;
      }
    }
    if (in_class && c == ']') in_class = false;
    out.push_back(c);
  }
  return out;
}

Regex::Regex(const std::string& pattern) : pattern_(pattern), impl_(std::make_unique<Impl>()) {
  const std::string p = onig_to_pcre2(pattern);
  int err = 0;
  PCRE2_SIZE err_off = 0;
  // MATCH_INVALID_UTF: arbitrary bytes are legal subjects; invalid sequences simply never match.
  impl_->code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(p.data()), p.size(),
                              PCRE2_UTF | PCRE2_UCP | PCRE2_MATCH_INVALID_UTF, &err, &err_off, nullptr);
  if (!impl_->code) {
    PCRE2_UCHAR msg[256];
    pcre2_get_error_message(err, msg, sizeof msg);
    throw RegexError("bad pre-tokenizer regex at offset " + std::to_string(err_off) + ": " +
                     reinterpret_cast<const char*>(msg) + " in '" + pattern + "'");
  }
  pcre2_jit_compile(impl_->code, PCRE2_JIT_COMPLETE);  // optional speed-up; the interpreter is the fallback
}

Regex::~Regex() = default;
Regex::Regex(Regex&&) noexcept = default;
Regex& Regex::operator=(Regex&&) noexcept = default;

void Regex::for_each_match(std::string_view s, const std::function<void(size_t, size_t)>& on_match) const {
  pcre2_match_data* md = thread_match_data();
  const auto* subject = reinterpret_cast<PCRE2_SPTR>(s.data());
  size_t pos = 0;
  while (pos < s.size()) {
    const int rc = pcre2_match(impl_->code, subject, s.size(), pos, 0, md, nullptr);
    if (rc == PCRE2_ERROR_NOMATCH) return;
    if (rc < 0) {
      PCRE2_UCHAR msg[256];
      pcre2_get_error_message(rc, msg, sizeof msg);
      throw RegexError(std::string("regex match failed: ") + reinterpret_cast<const char*>(msg));
    }
    const PCRE2_SIZE* ov = pcre2_get_ovector_pointer(md);
    const size_t b = ov[0], e = ov[1];
    if (e > b) {
      on_match(b, e);
      pos = e;
    } else {
      pos = b + utf8_char_len(s, b);  // an empty match: step over one character and go on
    }
  }
}

}  // namespace qs
