#include "hub/model_cache.h"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <stdexcept>

#include <nlohmann/json.hpp>
#include <unistd.h>

#include "util/ascii.h"

namespace qs::hub {

namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

// A revision as one folder name ("refs/pr/1" -> "refs%2Fpr%2F1").
std::string revision_folder(const std::string& rev) {
  std::string out;
  for (char c : rev) out += c == '/' ? "%2F" : c == '%' ? "%25" : std::string(1, c);
  return out;
}

// The cached revisions of ref's repository, the one it names (or the default branch) first.
std::vector<std::string> candidate_dirs(const ModelRef& ref) {
  std::vector<std::string> out;
  const std::string first = repo_cache_dir(ref);
  if (fs::exists(first)) out.push_back(first);
  if (!ref.revision.empty()) return out;
  std::error_code ec;
  const fs::path repo_dir = fs::path(first).parent_path();
  for (const auto& e : fs::directory_iterator(repo_dir, ec))
    if (e.is_directory() && e.path().string() != first) out.push_back(e.path().string());
  return out;
}

const ManifestFile* file_entry(const Manifest& m, const std::string& path) {
  for (const auto& f : m.files)
    if (f.path == path) return &f;
  return nullptr;
}

bool complete(const std::string& dir, const Manifest& m, const std::vector<std::string>& files) {
  if (files.empty()) return false;
  for (const auto& p : files) {
    const ManifestFile* f = file_entry(m, p);
    std::error_code ec;
    if (!f || !safe_repo_path(p) || fs::file_size(fs::path(dir) / p, ec) != f->size || ec) return false;
  }
  return true;
}

}  // namespace

std::string models_root() {
  if (const std::string v = env_or_empty("QIUSUO_MODELS"); !v.empty()) return v;
  if (const std::string v = env_or_empty("XDG_CACHE_HOME"); !v.empty()) return v + "/qiusuo/models";
  if (const std::string v = env_or_empty("HOME"); !v.empty()) return v + "/.cache/qiusuo/models";
  throw std::runtime_error("no model cache folder: set QIUSUO_MODELS (or HOME)");
}

std::string source_name(HubSource s) { return s == HubSource::ModelScope ? "modelscope" : "huggingface"; }

std::string repo_cache_dir(const ModelRef& ref) {
  return models_root() + "/" + source_name(ref.source) + "/" + ref.repo + "/" + revision_folder(ref.revision_or_default());
}

bool safe_repo_path(const std::string& p) {
  if (p.empty() || p.size() > 1024 || p[0] == '/') return false;
  size_t start = 0;
  for (;;) {
    const size_t slash = p.find('/', start);
    const std::string part = p.substr(start, slash == std::string::npos ? std::string::npos : slash - start);
    if (part.empty() || part == "." || part == "..") return false;
    if (slash == std::string::npos) break;
    start = slash + 1;
  }
  for (unsigned char c : p)
    if (c < 0x20 || c == 0x7f || c == '\\') return false;
  return true;
}

std::optional<Manifest> read_manifest(const std::string& dir) {
  std::ifstream in(fs::path(dir) / kManifestName);
  if (!in) return std::nullopt;
  try {
    const json j = json::parse(in);
    Manifest m;
    m.source = j.at("source").get<std::string>();
    m.repo = j.at("repo").get<std::string>();
    m.revision = j.at("revision").get<std::string>();
    m.default_tag = j.value("default_tag", "");
    for (const auto& f : j.at("files")) {
      if (!f.at("size").is_number_unsigned()) return std::nullopt;
      m.files.push_back({f.at("path"), f.at("size"), f.value("sha256", "")});
    }
    for (const auto& [tag, files] : j.at("tags").items()) m.tags[tag] = files.get<std::vector<std::string>>();
    return m;
  } catch (const json::exception&) {
    return std::nullopt;  // a damaged manifest is treated as absent: the next pull rewrites it
  }
}

void write_manifest(const std::string& dir, const Manifest& m) {
  json files = json::array();
  for (const auto& f : m.files) files.push_back({{"path", f.path}, {"size", f.size}, {"sha256", f.sha256}});
  const json j = {{"source", m.source}, {"repo", m.repo},   {"revision", m.revision},
                  {"files", files},     {"tags", m.tags}, {"default_tag", m.default_tag}};
  fs::create_directories(dir);
  const fs::path tmp = fs::path(dir) / (std::string(kManifestName) + "." + std::to_string(getpid()) + ".tmp");
  {
    std::ofstream out(tmp);
    out << j.dump(2) << "\n";
    if (!out) throw std::runtime_error("cannot write " + tmp.string());
  }
  fs::rename(tmp, fs::path(dir) / kManifestName);
}

std::vector<std::string> tag_files(const Manifest& m, const std::string& tag) {
  const std::string want = ascii_lower(tag.empty() ? m.default_tag : tag);
  for (const auto& [t, files] : m.tags)
    if (ascii_lower(t) == want) return files;
  return {};
}

std::optional<std::string> find_cached(const ModelRef& ref) {
  for (const auto& dir : candidate_dirs(ref)) {
    const auto m = read_manifest(dir);
    if (!m) continue;
    const auto files = tag_files(*m, ref.tag);
    if (complete(dir, *m, files)) return fs::absolute(fs::path(dir) / files[0]).string();
  }
  return std::nullopt;
}

std::vector<CachedModel> list_cached() {
  std::vector<CachedModel> out;
  std::error_code ec;
  const fs::path root = models_root();
  for (auto it = fs::recursive_directory_iterator(root, ec); !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (it->path().filename() != kManifestName) continue;
    const std::string dir = it->path().parent_path().string();
    const auto m = read_manifest(dir);
    if (!m) continue;
    std::set<std::vector<std::string>> seen;
    for (const auto& [tag, files] : m->tags) {
      if (!complete(dir, *m, files) || !seen.insert(files).second) continue;
      CachedModel c;
      c.ref = (m->source == "modelscope" ? "modelscope:" : "") + m->repo + ":" + tag;
      if (m->revision != "main" && m->revision != "master") c.ref += " @" + m->revision;
      for (const auto& p : files) c.bytes += file_entry(*m, p)->size;
      c.path = (fs::path(dir) / files[0]).string();
      out.push_back(c);
    }
  }
  return out;
}

uint64_t remove_cached(const ModelRef& ref) {
  for (const auto& dir : candidate_dirs(ref)) {
    auto m = read_manifest(dir);
    if (!m) continue;
    const auto files = tag_files(*m, ref.tag);
    if (files.empty()) continue;
    // Every tag naming these files goes; files another model still uses stay.
    for (auto it = m->tags.begin(); it != m->tags.end();) it = it->second == files ? m->tags.erase(it) : std::next(it);
    std::set<std::string> used;
    for (const auto& [t, fl] : m->tags) used.insert(fl.begin(), fl.end());
    uint64_t freed = 0;
    std::error_code ec;
    for (const auto& p : files) {
      if (used.count(p) || !safe_repo_path(p)) continue;
      const fs::path f = fs::path(dir) / p;
      freed += fs::file_size(f, ec);
      fs::remove(f, ec);
      fs::remove(f.string() + ".part", ec);
    }
    std::vector<ManifestFile> kept;
    for (const auto& f : m->files)
      if (used.count(f.path)) kept.push_back(f);
    m->files = kept;
    if (m->default_tag.empty() || tag_files(*m, m->default_tag).empty()) m->default_tag.clear();
    if (m->tags.empty()) {
      fs::remove_all(dir, ec);
      // Empty repository and owner folders go too.
      fs::path p = fs::path(dir).parent_path();
      for (int up = 0; up < 2 && fs::is_empty(p, ec) && !ec; ++up, p = p.parent_path()) fs::remove(p, ec);
    } else {
      write_manifest(dir, *m);
    }
    return freed;
  }
  throw std::runtime_error(ref.str() + " is not in the model cache (" + models_root() + ")");
}

}  // namespace qs::hub
