#include "tokenizer/pre_tokenizer.h"

#include <stdexcept>

#include <nlohmann/json.hpp>

namespace qs {

const char* const kGpt2Pattern = R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";

namespace {

// The patterns below are those of the models' tokenizer.json files (as also used by llama.cpp's
// llama-vocab.cpp); non-ASCII class members are spelled \x{...} so that no editor or tool can
// silently NFC-normalise them (several are singleton decompositions, e.g. U+2126 OHM SIGN).

// Shared by Qwen2 (digits one at a time) and Llama 3 (digits in runs of up to three).
std::string qwen_llama_pattern(const char* digits) {
  return std::string(R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|)") + digits +
         R"(| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
}

const char* const kDeepseekV3Cjk = R"([\x{4E00}-\x{9FA5}\x{3040}-\x{309F}\x{30A0}-\x{30FF}]+)";
const char* const kDeepseekV3Main =
    R"([!"#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~][A-Za-z]+|[^\r\n\p{L}\p{P}\p{S}]?[\p{L}\p{M}]+|)"
    R"( ?[\p{P}\p{S}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";

// DeepSeek LLM (V1 / V2): the cased letters of many alphabets, spelled out as ranges.
const char* const kDeepseekLlmLetters =
    R"(\s?[A-Za-z\x{B5}\x{C0}-\x{D6}\x{D8}-\x{F6}\x{F8}-\x{1BA}\x{1BC}-\x{1BF}\x{1C4}-\x{293}\x{295}-\x{2AF})"
    R"(\x{370}-\x{373}\x{376}\x{377}\x{37B}-\x{37D}\x{37F}\x{386}\x{388}-\x{38A}\x{38C}\x{38E}-\x{3A1})"
    R"(\x{3A3}-\x{3F5}\x{3F7}-\x{481}\x{48A}-\x{52F}\x{531}-\x{556}\x{10A0}-\x{10C5}\x{13A0}-\x{13F5})"
    R"(\x{13F8}-\x{13FD}\x{1C90}-\x{1CBA}\x{1CBD}-\x{1CBF}\x{1D00}-\x{1D2B}\x{1D6B}-\x{1D77}\x{1D79}-\x{1D9A})"
    R"(\x{1E00}-\x{1F15}\x{1F18}-\x{1F1D}\x{1F20}-\x{1F45}\x{1F48}-\x{1F4D}\x{1F50}-\x{1F57}\x{1F59}\x{1F5B})"
    R"(\x{1F5D}\x{1F5F}-\x{1F7D}\x{1F80}-\x{1FB4}\x{1FB6}-\x{1FBC}\x{1FBE}\x{1FC2}-\x{1FC4}\x{1FC6}-\x{1FCC})"
    R"(\x{1FD0}-\x{1FD3}\x{1FD6}-\x{1FDB}\x{1FE0}-\x{1FEC}\x{1FF2}-\x{1FF4}\x{1FF6}-\x{1FFC}\x{2102}\x{2107})"
    R"(\x{210A}-\x{2113}\x{2115}\x{2119}-\x{211D}\x{2124}\x{2126}\x{2128}\x{212A}-\x{212D}\x{212F}-\x{2134})"
    R"(\x{2139}\x{213C}-\x{213F}\x{2145}-\x{2149}\x{214E}\x{2183}\x{2184}\x{2C00}-\x{2C7B}\x{2C7E}-\x{2CE4})"
    R"(\x{2CEB}-\x{2CEE}\x{2CF2}\x{2CF3}\x{A640}-\x{A66D}\x{A680}-\x{A69B}\x{A722}-\x{A76F}\x{A771}-\x{A787})"
    R"(\x{A78B}-\x{A78E}\x{AB70}-\x{ABBF}\x{FB00}-\x{FB06}\x{FB13}-\x{FB17}\x{FF21}-\x{FF3A}\x{FF41}-\x{FF5A})"
    R"(\x{10400}-\x{1044F}\x{104B0}-\x{104D3}\x{104D8}-\x{104FB}\x{10C80}-\x{10CB2}\x{10CC0}-\x{10CF2})"
    R"(\x{118A0}-\x{118DF}\x{1E900}-\x{1E943}]+)";
const char* const kDeepseekLlmPunct =
    R"(\s?[!-/:-~\x{FF01}-\x{FF0F}\x{FF1A}-\x{FF5E}\x{2018}-\x{201F}\x{3000}-\x{3002}]+)";
const char* const kDeepseekLlmCjk = R"([\x{4E00}-\x{9FA5}\x{0800}-\x{4E00}\x{AC00}-\x{D7FF}]+)";

SplitBehavior behavior_from_name(const std::string& s) {
  if (s == "Isolated") return SplitBehavior::Isolated;
  if (s == "Removed") return SplitBehavior::Removed;
  if (s == "MergedWithPrevious") return SplitBehavior::MergedWithPrevious;
  if (s == "MergedWithNext") return SplitBehavior::MergedWithNext;
  if (s == "Contiguous") return SplitBehavior::Contiguous;
  throw std::invalid_argument("unknown Split behavior '" + s + "'");
}

// Escapes a literal so that PCRE2 matches it verbatim (Split with a String pattern).
std::string quote_literal(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (std::string_view("\\^$.|?*+()[]{}-/").find(c) != std::string_view::npos) out.push_back('\\');
    out.push_back(c);
  }
  return out;
}

struct Span {
  size_t b, e;
  bool match;
};

// Cuts [0, n) into alternating gaps and matches of re.
std::vector<Span> spans_of(const Regex& re, std::string_view s, bool invert) {
  std::vector<Span> out;
  size_t last = 0;
  re.for_each_match(s, [&](size_t b, size_t e) {
    if (b > last) out.push_back({last, b, invert});
    out.push_back({b, e, !invert});
    last = e;
  });
  if (last < s.size()) out.push_back({last, s.size(), invert});
  return out;
}

}  // namespace

void PreTokenizer::add_split(const std::string& pattern, SplitBehavior b, bool invert) {
  steps_.push_back({Regex(pattern), b, invert});
}

PreTokenizer PreTokenizer::from_name(const std::string& name) {
  PreTokenizer p;
  if (name == "deepseek-v3" || name == "deepseek3-llm") {
    p.add_split(R"(\p{N}{1,3})");
    p.add_split(kDeepseekV3Cjk);
    p.add_split(kDeepseekV3Main);
  } else if (name == "deepseek-llm") {
    p.add_split("[\r\n]");
    p.add_split(kDeepseekLlmLetters);
    p.add_split(kDeepseekLlmPunct);
    p.add_split(R"(\s+$)");
    p.add_split(kDeepseekLlmCjk);
    p.add_split(R"(\p{N}+)");
  } else if (name == "deepseek-coder") {
    p.add_split("[\r\n]");
    p.add_split(R"(\s?\p{L}+)");
    p.add_split(R"(\s?\p{P}+)");
    p.add_split(kDeepseekLlmCjk);
    p.add_split(R"(\p{N})");
  } else if (name == "deepseek-r1-qwen" || name == "qwen2") {
    p.add_split(qwen_llama_pattern(R"(\p{N})"));
  } else if (name == "llama-bpe" || name == "llama3") {
    p.add_split(qwen_llama_pattern(R"(\p{N}{1,3})"));
  } else if (name == "default" || name == "gpt2" || name.empty()) {
    p.add_split(kGpt2Pattern);
  } else {
    throw std::invalid_argument("unsupported pre-tokenizer '" + name +
                                "' (known: deepseek-v3, deepseek-llm, deepseek-coder, deepseek-r1-qwen, qwen2, "
                                "llama-bpe, gpt2, default)");
  }
  return p;
}

void PreTokenizer::add_hf(const nlohmann::json& j, bool first) {
  const std::string type = j.value("type", "");
  if (type == "Sequence") {
    bool f = first;
    for (const auto& sub : j.at("pretokenizers")) {
      add_hf(sub, f);
      f = false;
    }
  } else if (type == "Split") {
    const auto& pat = j.at("pattern");
    const std::string re = pat.contains("Regex") ? pat["Regex"].get<std::string>()
                                                 : quote_literal(pat.at("String").get<std::string>());
    add_split(re, behavior_from_name(j.value("behavior", "Isolated")), j.value("invert", false));
  } else if (type == "ByteLevel") {
    // The byte mapping itself is BPE's job; only the optional GPT-2 regex splits here.
    if (j.value("add_prefix_space", false)) {
      // HF prepends the space to each piece that reaches ByteLevel; we support it where those
      // pieces are whole segments, i.e. ByteLevel comes first.
      if (!first) throw std::invalid_argument("ByteLevel add_prefix_space after other pre-tokenizers is not supported");
      add_prefix_space_ = true;
    }
    if (j.value("use_regex", true)) add_split(kGpt2Pattern);
  } else if (type == "Digits") {
    add_split(j.value("individual_digits", false) ? "[0-9]" : "[0-9]+");
  } else {
    throw std::invalid_argument("unsupported pre_tokenizer type '" + type + "'");
  }
}

PreTokenizer PreTokenizer::from_hf_json(const nlohmann::json& j) {
  PreTokenizer p;
  if (!j.is_null()) p.add_hf(j, true);
  return p;
}

std::vector<std::string_view> PreTokenizer::split(std::string_view text) const {
  std::vector<std::string_view> pieces;
  if (text.empty()) return pieces;
  pieces.push_back(text);
  std::vector<std::string_view> next;
  // Grows the last emitted piece so that it ends where t ends (t follows it in the same piece).
  auto extend_last = [&](std::string_view t) {
    next.back() = std::string_view(next.back().data(), static_cast<size_t>(t.data() + t.size() - next.back().data()));
  };
  for (const Step& st : steps_) {
    next.clear();
    for (std::string_view piece : pieces) {
      const std::vector<Span> spans = spans_of(st.re, piece, st.invert);
      // HF SplitDelimiterBehavior, span by span.
      const char* carry = nullptr;  // MergedWithNext: where the match waiting for its successor starts
      for (size_t k = 0; k < spans.size(); ++k) {
        const Span& sp = spans[k];
        const std::string_view t = piece.substr(sp.b, sp.e - sp.b);
        const bool prev_match = k > 0 && spans[k - 1].match;
        switch (st.behavior) {
          case SplitBehavior::Isolated:
            next.push_back(t);
            break;
          case SplitBehavior::Removed:
            if (!sp.match) next.push_back(t);
            break;
          case SplitBehavior::MergedWithPrevious:
            if (sp.match && k > 0 && !prev_match) extend_last(t);
            else next.push_back(t);
            break;
          case SplitBehavior::MergedWithNext:
            if (sp.match && k + 1 < spans.size() && !spans[k + 1].match) {
              carry = t.data();
            } else if (carry) {
              next.emplace_back(carry, static_cast<size_t>(t.data() + t.size() - carry));
              carry = nullptr;
            } else {
              next.push_back(t);
            }
            break;
          case SplitBehavior::Contiguous:
            if (sp.match && prev_match) extend_last(t);
            else next.push_back(t);
            break;
        }
      }
    }
    pieces.swap(next);
  }
  return pieces;
}

}  // namespace qs
