#include "chat/jinja_lexer.h"

#include <algorithm>
#include <cstdint>
#include <cctype>
#include <cstring>

#include "chat/jinja_pystr.h"

namespace qs::jinja {

std::string normalize_source(const std::string& src) {
  std::string out;
  out.reserve(src.size());
  for (size_t i = 0; i < src.size(); ++i) {
    if (src[i] == '\r') {
      out += '\n';
      if (i + 1 < src.size() && src[i + 1] == '\n') ++i;
    } else {
      out += src[i];
    }
  }
  if (!out.empty() && out.back() == '\n') out.pop_back();  // keep_trailing_newline=False
  return out;
}

namespace {

bool is_ws(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'; }

// Python's str.rstrip() (Unicode whitespace).
std::string rstrip(const std::string& s) { return pystr::strip(s, std::nullopt, false, true); }

bool all_space(const std::string& s, size_t from) {
  if (from >= s.size()) return false;
  for (size_t i = from; i < s.size();)
    if (!pystr::is_space(pystr::decode(s, i))) return false;
  return true;
}

class Lexer {
 public:
  explicit Lexer(const std::string& src) : s_(src) {
    line_starts_.push_back(0);
    for (size_t i = 0; i < s_.size(); ++i)
      if (s_[i] == '\n') line_starts_.push_back(i + 1);
  }

  std::vector<Token> run() {
    size_t pos = 0;
    bool line_starting = true;
    while (pos < s_.size()) {
      const size_t tag = next_tag(pos);
      if (tag == std::string::npos) {
        emit_data(s_.substr(pos), pos);
        break;
      }
      std::string text = s_.substr(pos, tag - pos);
      const char kind = s_[tag + 1];  // '{', '%' or '#'
      size_t raw_end = 0;
      const bool raw = kind == '%' && match_raw_begin(tag, raw_end);
      const char sign = tag + 2 < s_.size() && (s_[tag + 2] == '-' || s_[tag + 2] == '+') ? s_[tag + 2] : 0;
      text = lstrip_text(std::move(text), sign, kind != '{', line_starting);
      emit_data(text, pos);
      if (raw) {
        pos = lex_raw(raw_end, line_starting);
      } else if (kind == '#') {
        pos = skip_comment(tag, sign ? tag + 3 : tag + 2, line_starting);
      } else {
        pos = lex_tag(tag, kind, sign ? tag + 3 : tag + 2, line_starting);
      }
    }
    out_.push_back(Token{Tok::Eof, "", 0, 0, where(s_.size())});
    return std::move(out_);
  }

 private:
  const std::string& s_;
  std::vector<size_t> line_starts_;
  std::vector<Token> out_;

  // Tokens are located in increasing order, so the column is counted on from the previous call on the
  // same line (counting from the line start each time is quadratic in a long line's token count).
  mutable size_t memo_line_ = SIZE_MAX, memo_off_ = 0, memo_col_ = 0;

  SourcePos where(size_t off) const {
    const auto it = std::upper_bound(line_starts_.begin(), line_starts_.end(), off) - 1;
    const size_t ls = *it;
    const size_t line = static_cast<size_t>(it - line_starts_.begin());
    size_t from = ls, col = 0;
    if (line == memo_line_ && off >= memo_off_) {
      from = memo_off_;
      col = memo_col_;
    }
    col += pystr::length(std::string_view(s_).substr(from, off - from));
    memo_line_ = line;
    memo_off_ = off;
    memo_col_ = col;
    return {static_cast<int>(line) + 1, static_cast<int>(col) + 1};
  }

  [[noreturn]] void fail(const std::string& msg, size_t off) const { throw Error(msg, where(off)); }

  size_t next_tag(size_t from) const {
    for (size_t p = s_.find('{', from); p != std::string::npos; p = s_.find('{', p + 1))
      if (p + 1 < s_.size() && (s_[p + 1] == '{' || s_[p + 1] == '%' || s_[p + 1] == '#')) return p;
    return std::string::npos;
  }

  void emit_data(const std::string& text, size_t off) {
    if (!text.empty()) out_.push_back(Token{Tok::Data, text, 0, 0, where(off)});
  }

  // jinja2's OptionalLStrip: "-" strips all whitespace before a tag; lstrip_blocks strips a block or comment
  // tag's indentation when only whitespace precedes it on its line.
  std::string lstrip_text(std::string text, char sign, bool is_block, bool line_starting) const {
    if (sign == '-') return rstrip(text);
    if (sign == '+' || !is_block) return text;
    const size_t nl = text.rfind('\n');
    const size_t l_pos = nl == std::string::npos ? 0 : nl + 1;
    if ((l_pos > 0 || line_starting) && all_space(text, l_pos)) text.resize(l_pos);
    return text;
  }

  // Python's \s on str: Unicode whitespace, so "-%}" also eats e.g. U+3000.
  size_t skip_ws(size_t p) const {
    while (p < s_.size()) {
      size_t q = p;
      if (!pystr::is_space(pystr::decode(s_, q))) break;
      p = q;
    }
    return p;
  }

  bool starts(size_t p, const char* lit) const { return s_.compare(p, std::strlen(lit), lit) == 0; }

  // Block-style end "%}" (or "#}"): "-" eats following whitespace, "+" keeps it, otherwise trim_blocks eats
  // one newline. Returns the offset after it and whether the matched text ended in a newline.
  size_t block_end_after(size_t p, bool& line_starting) const {
    // p points at the "-", "+" or the end delimiter itself
    size_t q;
    if (s_[p] == '-') {
      const size_t e = p + 3;
      q = skip_ws(e);
      line_starting = q > e && s_[q - 1] == '\n';
      return q;
    }
    if (s_[p] == '+') {
      line_starting = false;
      return p + 3;
    }
    q = p + 2;
    line_starting = q < s_.size() && s_[q] == '\n';
    return line_starting ? q + 1 : q;
  }

  bool match_raw_begin(size_t tag, size_t& after) const {
    size_t p = tag + 2;
    if (p < s_.size() && (s_[p] == '-' || s_[p] == '+')) ++p;
    p = skip_ws(p);
    if (!starts(p, "raw")) return false;
    p = skip_ws(p + 3);
    if (starts(p, "-%}")) {
      after = skip_ws(p + 3);
      return true;
    }
    if (starts(p, "%}")) {
      after = p + 2;
      return true;
    }
    return false;
  }

  size_t lex_raw(size_t from, bool& line_starting) {
    for (size_t p = s_.find("{%", from); p != std::string::npos; p = s_.find("{%", p + 1)) {
      size_t q = p + 2;
      const char sign = q < s_.size() && (s_[q] == '-' || s_[q] == '+') ? s_[q] : 0;
      if (sign) ++q;
      q = skip_ws(q);
      if (!starts(q, "endraw")) continue;
      q = skip_ws(q + 6);
      if (!(starts(q, "-%}") || starts(q, "+%}") || starts(q, "%}"))) continue;
      emit_data(lstrip_text(s_.substr(from, p - from), sign, true, line_starting), from);
      return block_end_after(q, line_starting);
    }
    fail("missing end of raw directive ({% endraw %})", from);
  }

  size_t skip_comment(size_t tag, size_t from, bool& line_starting) {
    const size_t e = s_.find("#}", from);
    if (e == std::string::npos) fail("unclosed comment: missing '#}'", tag);
    const size_t p = e > from && (s_[e - 1] == '-' || s_[e - 1] == '+') ? e - 1 : e;
    return block_end_after(p, line_starting);
  }

  // Tokens inside {{ }} or {% %} until the matching end delimiter.
  size_t lex_tag(size_t tag, char kind, size_t p, bool& line_starting) {
    const bool block = kind == '%';
    out_.push_back(Token{block ? Tok::BlockBegin : Tok::VarBegin, "", 0, 0, where(tag)});
    std::string braces;
    while (true) {
      if (p >= s_.size())
        fail(block ? "unclosed block tag: missing '%}'" : "unclosed variable tag: missing '}}'", tag);
      if (braces.empty()) {
        if (block && (starts(p, "-%}") || starts(p, "+%}") || starts(p, "%}"))) {
          out_.push_back(Token{Tok::BlockEnd, "", 0, 0, where(p)});
          return block_end_after(p, line_starting);
        }
        if (!block && (starts(p, "-}}") || starts(p, "}}"))) {
          out_.push_back(Token{Tok::VarEnd, "", 0, 0, where(p)});
          if (s_[p] == '-') {
            const size_t q = skip_ws(p + 3);
            line_starting = q > p + 3 && s_[q - 1] == '\n';
            return q;
          }
          line_starting = false;
          return p + 2;
        }
      }
      const char c = s_[p];
      if (is_ws(c) || static_cast<unsigned char>(c) >= 0x80) {
        const size_t q = skip_ws(p);
        if (q == p) fail_char(p);
        p = q;
      } else if (std::isdigit(static_cast<unsigned char>(c))) {
        p = lex_number(p);
      } else if (std::isalpha(static_cast<unsigned char>(c)) || c == '_') {
        size_t e = p;
        while (e < s_.size() && (std::isalnum(static_cast<unsigned char>(s_[e])) || s_[e] == '_')) ++e;
        out_.push_back(Token{Tok::Name, s_.substr(p, e - p), 0, 0, where(p)});
        p = e;
      } else if (c == '\'' || c == '"') {
        p = lex_string(p);
      } else {
        p = lex_operator(p, braces);
      }
    }
  }

  [[noreturn]] void fail_char(size_t p) const {
    size_t i = p;
    std::string ch;
    pystr::append_utf8(ch, pystr::decode(s_, i));
    fail("unexpected character '" + ch + "'", p);
  }

  size_t lex_number(size_t p) {
    const size_t start = p;
    auto digits = [&](size_t q) {
      while (q < s_.size() && (std::isdigit(static_cast<unsigned char>(s_[q])) ||
                               (s_[q] == '_' && q + 1 < s_.size() && std::isdigit(static_cast<unsigned char>(s_[q + 1])))))
        ++q;
      return q;
    };
    if (s_[p] == '0' && p + 1 < s_.size() && std::strchr("xXoObB", s_[p + 1]) && s_[p + 1] != 0) {
      const int base = std::tolower(s_[p + 1]) == 'x' ? 16 : std::tolower(s_[p + 1]) == 'o' ? 8 : 2;
      size_t q = p + 2;
      std::string d;
      while (q < s_.size() && (std::isxdigit(static_cast<unsigned char>(s_[q])) || s_[q] == '_')) {
        if (s_[q] != '_') d += s_[q];
        ++q;
      }
      if (d.empty()) fail("invalid number literal", p);
      out_.push_back(Token{Tok::Int, s_.substr(p, q - p), parse_int(d, base, p), 0, where(p)});
      return q;
    }
    p = digits(p);
    bool is_float = false;
    const bool after_dot = start > 0 && s_[start - 1] == '.';  // "x.0.1" is item access, not a float
    if (!after_dot && p + 1 < s_.size() && s_[p] == '.' && std::isdigit(static_cast<unsigned char>(s_[p + 1]))) {
      p = digits(p + 1);
      is_float = true;
    }
    if (!after_dot && p < s_.size() && (s_[p] == 'e' || s_[p] == 'E')) {
      size_t q = p + 1;
      if (q < s_.size() && (s_[q] == '+' || s_[q] == '-')) ++q;
      if (q < s_.size() && std::isdigit(static_cast<unsigned char>(s_[q]))) {
        p = digits(q);
        is_float = true;
      }
    }
    std::string text;
    for (size_t i = start; i < p; ++i)
      if (s_[i] != '_') text += s_[i];
    Token t{is_float ? Tok::Float : Tok::Int, text, 0, 0, where(start)};
    if (is_float) t.fval = std::strtod(text.c_str(), nullptr);
    else t.ival = parse_int(text, 10, start);
    out_.push_back(std::move(t));
    return p;
  }

  int64_t parse_int(const std::string& d, int base, size_t at) const {
    errno = 0;
    char* end = nullptr;
    const long long v = std::strtoll(d.c_str(), &end, base);
    if (errno == ERANGE || *end != 0) fail("integer literal out of range or invalid: " + d, at);
    return v;
  }

  // Python "unicode-escape" decoding of a quoted literal; unknown escapes stay as written.
  size_t lex_string(size_t p) {
    const char q = s_[p];
    std::string val;
    size_t i = p + 1;
    while (true) {
      if (i >= s_.size()) fail("unterminated string literal", p);
      const char c = s_[i];
      if (c == q) break;
      if (c != '\\') {
        val += c;
        ++i;
        continue;
      }
      if (i + 1 >= s_.size()) fail("unterminated string literal", p);
      const char e = s_[i + 1];
      i += 2;
      switch (e) {
        case 'n': val += '\n'; break;
        case 't': val += '\t'; break;
        case 'r': val += '\r'; break;
        case '\\': val += '\\'; break;
        case '\'': val += '\''; break;
        case '"': val += '"'; break;
        case 'a': val += '\a'; break;
        case 'b': val += '\b'; break;
        case 'f': val += '\f'; break;
        case 'v': val += '\v'; break;
        case '\n': break;  // backslash-newline continues the line
        case 'x':
        case 'u':
        case 'U': {
          const size_t n = e == 'x' ? 2 : e == 'u' ? 4 : 8;
          if (i + n > s_.size()) fail("truncated \\" + std::string(1, e) + " escape in string literal", i);
          const std::string hex = s_.substr(i, n);
          if (!std::all_of(hex.begin(), hex.end(), [](char h) { return std::isxdigit(static_cast<unsigned char>(h)); }))
            fail("truncated \\" + std::string(1, e) + " escape in string literal", i);
          pystr::append_utf8(val, static_cast<uint32_t>(std::stoul(hex, nullptr, 16)));
          i += n;
          break;
        }
        default:
          if (e >= '0' && e <= '7') {
            uint32_t v = e - '0';
            for (int k = 0; k < 2 && i < s_.size() && s_[i] >= '0' && s_[i] <= '7'; ++k) v = v * 8 + (s_[i++] - '0');
            pystr::append_utf8(val, v);
          } else {
            val += '\\';
            val += e;
          }
      }
    }
    out_.push_back(Token{Tok::String, std::move(val), 0, 0, where(p)});
    return i + 1;
  }

  size_t lex_operator(size_t p, std::string& braces) {
    static const char* kTwo[] = {"//", "**", "==", "!=", ">=", "<="};
    for (const char* op : kTwo)
      if (starts(p, op)) {
        out_.push_back(Token{Tok::Op, op, 0, 0, where(p)});
        return p + 2;
      }
    const char c = s_[p];
    if (!std::strchr("+-/*%~[](){}><=.:|,;", c) || c == 0) fail_char(p);
    if (c == '(' || c == '[' || c == '{') braces += c;
    if (c == ')' || c == ']' || c == '}') {
      const char open = c == ')' ? '(' : c == ']' ? '[' : '{';
      if (braces.empty() || braces.back() != open) fail(std::string("unexpected '") + c + "'", p);
      braces.pop_back();
    }
    out_.push_back(Token{Tok::Op, std::string(1, c), 0, 0, where(p)});
    return p + 1;
  }
};

}  // namespace

std::vector<Token> tokenize(const std::string& normalized_src) { return Lexer(normalized_src).run(); }

}  // namespace qs::jinja
