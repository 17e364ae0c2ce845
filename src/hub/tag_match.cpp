#include "hub/tag_match.h"

#include <algorithm>
#include <map>
#include <stdexcept>

#include "gguf/gguf_file.h"
#include "util/ascii.h"

namespace qs::hub {

namespace {

bool delimiter(char c) { return c == '-' || c == '_' || c == '.' || c == '/'; }

bool ends_with_ci(const std::string& s, const std::string& e) {
  return s.size() >= e.size() && ascii_lower(s.substr(s.size() - e.size())) == e;
}

// A quant label as converters name files: Q4_K_M, IQ1_S, TQ1_0, Q8_0, F16, BF16, F32, MXFP4(_MOE).
bool quant_label(const std::string& token) {
  const std::string t = ascii_upper(token);
  if (t == "F16" || t == "BF16" || t == "F32" || t == "MXFP4" || t == "MXFP4_MOE") return true;
  size_t i = 0;
  if (i < t.size() && (t[i] == 'I' || t[i] == 'T')) ++i;
  if (i >= t.size() || t[i] != 'Q') return false;
  ++i;
  if (i >= t.size() || t[i] < '1' || t[i] > '8') return false;
  while (i < t.size() && t[i] >= '0' && t[i] <= '9') ++i;
  if (i == t.size()) return true;  // "Q8"
  if (t[i] != '_') return false;
  for (; i < t.size(); ++i)
    if (!(t[i] == '_' || (t[i] >= 'A' && t[i] <= 'Z') || (t[i] >= '0' && t[i] <= '9'))) return false;
  return true;
}

// The last quant label in a path ("UD-" kept), else the file name without ".gguf".
std::string label_of(const std::string& key) {
  std::vector<std::string> tokens;
  std::string cur;
  for (char c : key) {
    if (c == '-' || c == '.' || c == '/') {
      tokens.push_back(cur);
      cur.clear();
    } else {
      cur += c;
    }
  }
  tokens.push_back(cur);
  for (size_t i = tokens.size(); i-- > 0;) {
    if (!quant_label(tokens[i])) continue;
    if (i > 0 && ascii_upper(tokens[i - 1]) == "UD") return "UD-" + ascii_upper(tokens[i]);
    return ascii_upper(tokens[i]);
  }
  const size_t slash = key.rfind('/');
  return slash == std::string::npos ? key : key.substr(slash + 1);
}

std::string tag_list(const std::vector<RepoModel>& models) {
  std::string s;
  for (const auto& m : models) s += (s.empty() ? "" : ", ") + m.tag;
  return s;
}

}  // namespace

bool tag_matches(const std::string& path, const std::string& tag) {
  if (tag.empty()) return false;
  const std::string p = ascii_lower(path), t = ascii_lower(tag);
  for (size_t at = p.find(t); at != std::string::npos; at = p.find(t, at + 1)) {
    const bool left = at == 0 || delimiter(p[at - 1]);
    const size_t end = at + t.size();
    const bool right = end == p.size() || delimiter(p[end]);
    if (left && right) return true;
  }
  return false;
}

std::vector<RepoModel> repo_models(const std::vector<std::string>& paths) {
  struct Set {
    uint32_t count = 0;
    std::map<uint32_t, std::string> shards;
  };
  std::map<std::string, Set> sets;  // key: path without ".gguf" or the shard suffix
  for (const auto& p : paths) {
    if (!ends_with_ci(p, ".gguf")) continue;
    const size_t slash = p.rfind('/');
    if (ascii_lower(p.substr(slash == std::string::npos ? 0 : slash + 1)).rfind("mmproj", 0) == 0) continue;
    if (const auto shard = parse_shard_name(p); shard && shard->count > 0 && shard->index >= 1) {
      Set& s = sets[shard->prefix];
      s.count = std::max(s.count, shard->count);
      s.shards[shard->index] = p;
    } else {
      sets[p.substr(0, p.size() - 5)].shards[0] = p;
    }
  }
  std::vector<RepoModel> out;
  for (const auto& [key, s] : sets) {
    RepoModel m;
    m.tag = label_of(key);
    if (s.count > 0) {
      for (uint32_t i = 1; i <= s.count; ++i) {
        const auto it = s.shards.find(i);
        if (it == s.shards.end())
          throw std::runtime_error("the repository lists " + std::to_string(s.shards.size()) + " of the " +
                                   std::to_string(s.count) + " shards of " + key + " (shard " + std::to_string(i) +
                                   " is missing)");
        m.files.push_back(it->second);
      }
    } else {
      m.files.push_back(s.shards.at(0));
    }
    out.push_back(std::move(m));
  }
  return out;
}

RepoModel choose_model(const std::vector<std::string>& paths, const std::string& tag, const std::string& repo) {
  const std::vector<RepoModel> models = repo_models(paths);
  if (models.empty()) throw std::runtime_error(repo + " has no GGUF files");
  auto pick = [&](const std::string& t) {
    // A model whose label is the tag wins over ones that merely contain it (Q4_K names Q4_K, not Q4_K_M).
    std::vector<RepoModel> exact, contains;
    for (const auto& m : models) {
      if (ascii_lower(m.tag) == ascii_lower(t)) exact.push_back(m);
      else if (tag_matches(m.files[0], t)) contains.push_back(m);
    }
    return exact.empty() ? contains : exact;
  };
  if (tag.empty()) {
    if (models.size() == 1) return models[0];
    const auto q4km = pick("Q4_K_M");
    if (q4km.size() == 1) return q4km[0];
    throw std::runtime_error(repo + " has several models; name one as " + repo + ":TAG (tags: " + tag_list(models) + ")");
  }
  const auto found = pick(tag);
  if (found.size() == 1) return found[0];
  if (found.empty()) throw std::runtime_error("no model in " + repo + " matches the tag " + tag + " (tags: " + tag_list(models) + ")");
  std::string which;
  for (const auto& m : found) which += (which.empty() ? "" : ", ") + m.files[0];
  throw std::runtime_error("the tag " + tag + " matches several models in " + repo + ": " + which);
}

}  // namespace qs::hub
