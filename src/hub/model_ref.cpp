#include "hub/model_ref.h"

#include <filesystem>

namespace qs::hub {

namespace {

bool name_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.';
}

// A Hub owner, repository or tag: 1-96 of [A-Za-z0-9._-], not "." or "..", no leading '-'.
bool valid_name(const std::string& s) {
  if (s.empty() || s.size() > 96 || s == "." || s == ".." || s[0] == '-') return false;
  for (char c : s)
    if (!name_char(c)) return false;
  return true;
}

bool strip_prefix(std::string& s, const std::string& p) {
  if (s.compare(0, p.size(), p) != 0) return false;
  s.erase(0, p.size());
  return true;
}

bool ends_with(const std::string& s, const std::string& e) {
  return s.size() >= e.size() && s.compare(s.size() - e.size(), e.size(), e) == 0;
}

}  // namespace

std::string ModelRef::str() const {
  std::string s = source == HubSource::ModelScope ? "modelscope:" + repo : repo;
  if (!tag.empty()) s += ":" + tag;
  return s;
}

std::string ModelRef::revision_or_default() const {
  if (!revision.empty()) return revision;
  return source == HubSource::ModelScope ? "master" : "main";
}

std::optional<ModelRef> parse_model_ref(const std::string& input) {
  std::string s = input;
  ModelRef r;
  if (strip_prefix(s, "modelscope:") || strip_prefix(s, "ms:")) r.source = HubSource::ModelScope;
  strip_prefix(s, "https://") || strip_prefix(s, "http://");
  if (r.source == HubSource::HuggingFace) strip_prefix(s, "hf.co/") || strip_prefix(s, "huggingface.co/");
  else strip_prefix(s, "modelscope.cn/models/") || strip_prefix(s, "www.modelscope.cn/models/");
  const size_t colon = s.find(':');
  if (colon != std::string::npos) {
    r.tag = s.substr(colon + 1);
    s.resize(colon);
    if (!valid_name(r.tag)) return std::nullopt;
  }
  const size_t slash = s.find('/');
  if (slash == std::string::npos || s.find('/', slash + 1) != std::string::npos) return std::nullopt;
  if (!valid_name(s.substr(0, slash)) || !valid_name(s.substr(slash + 1))) return std::nullopt;
  r.repo = s;
  return r;
}

bool looks_like_model_ref(const std::string& arg) {
  std::error_code ec;
  if (std::filesystem::exists(arg, ec)) return false;
  if (ends_with(arg, ".gguf") || ends_with(arg, ".json")) return false;
  return parse_model_ref(arg).has_value();
}

}  // namespace qs::hub
