#include "hub/hub_api.h"

#include <cstdlib>
#include <fstream>
#include <thread>

#include <nlohmann/json.hpp>

#include "hub/model_cache.h"
#include "util/ascii.h"

namespace qs::hub {

using json = nlohmann::json;

namespace {

std::string first_line_of(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  if (in) std::getline(in, line);
  return trim_space(line);
}

std::string hf_token() {
  if (const std::string t = trim_space(env_or_empty("HF_TOKEN")); !t.empty()) return t;
  if (const std::string p = env_or_empty("HF_TOKEN_PATH"); !p.empty()) return first_line_of(p);
  if (const std::string h = env_or_empty("HF_HOME"); !h.empty()) return first_line_of(h + "/token");
  if (const std::string h = env_or_empty("HOME"); !h.empty()) return first_line_of(h + "/.cache/huggingface/token");
  return "";
}

std::string encode_path(const std::string& path) {
  std::string out;
  size_t start = 0;
  for (;;) {
    const size_t slash = path.find('/', start);
    out += url_encode(path.substr(start, slash == std::string::npos ? std::string::npos : slash - start));
    if (slash == std::string::npos) return out;
    out += '/';
    start = slash + 1;
  }
}

// The rel="next" address of a Link header ("" when none).
std::string next_link(const std::string& link) {
  for (size_t at = 0; (at = link.find('<', at)) != std::string::npos; ++at) {
    const size_t close = link.find('>', at);
    if (close == std::string::npos) return "";
    const size_t end = link.find(',', close);
    const std::string params = link.substr(close, end == std::string::npos ? std::string::npos : end - close);
    if (params.find("rel=\"next\"") != std::string::npos) return link.substr(at + 1, close - at - 1);
  }
  return "";
}

// A file size from a listing: a non-negative integer (a float or a negative number would not convert).
uint64_t size_of(const json& v) {
  if (!v.is_number_unsigned()) throw DownloadError("the hub's file listing has a size that is not a non-negative integer");
  return v.get<uint64_t>();
}

void check_file(const RemoteFile& f) {
  if (!safe_repo_path(f.path)) throw DownloadError("the hub listed an unsafe file path: " + f.path.substr(0, 200));
}

// GET with the retry rules of downloads; the reply of a 2xx.
HttpReply get_listing(HttpClient& http, const std::string& url, const ModelRef& ref, const HubEndpoint& ep,
                      const DownloadPolicy& policy) {
  double backoff = policy.backoff_s;
  RequestOptions o = policy.request;
  o.headers.insert(o.headers.end(), ep.headers.begin(), ep.headers.end());
  o.max_body = size_t{32} << 20;
  for (int attempt = 1;; ++attempt) {
    std::string problem;
    try {
      HttpReply r = http.get(url, o);
      if (r.status >= 200 && r.status < 300) return r;
      if (r.status == 401 || r.status == 403) throw DownloadError(auth_hint(r.status, ref.str()));
      if (r.status == 404)
        throw DownloadError("no repository " + ref.repo + " (revision " + ref.revision_or_default() + ") on " + ep.base +
                            (ep.source == HubSource::HuggingFace ? " (a private one needs HF_TOKEN)" : ""));
      if (r.status != 429 && r.status < 500) throw DownloadError(url + ": the hub answered " + std::to_string(r.status));
      problem = "the hub answered " + std::to_string(r.status);
      if (const double wait = r.retry_after_seconds(); wait >= 0) backoff = std::min(wait, policy.max_backoff_s);
    } catch (const TransportError& e) {
      problem = e.what();
    }
    if (attempt >= policy.max_attempts) throw DownloadError("listing " + ref.repo + ": " + problem);
    std::this_thread::sleep_for(std::chrono::milliseconds(static_cast<long>(backoff * 1000)));
    backoff = std::min(backoff * 2, policy.max_backoff_s);
  }
}

}  // namespace

HubEndpoint hub_endpoint(HubSource source) {
  HubEndpoint ep;
  ep.source = source;
  std::string token;
  if (source == HubSource::ModelScope) {
    ep.base = env_or_empty("MODELSCOPE_ENDPOINT").empty() ? "https://www.modelscope.cn" : env_or_empty("MODELSCOPE_ENDPOINT");
    token = trim_space(env_or_empty("MODELSCOPE_API_TOKEN"));
  } else {
    ep.base = env_or_empty("HF_ENDPOINT").empty() ? "https://huggingface.co" : env_or_empty("HF_ENDPOINT");
    token = hf_token();
  }
  while (!ep.base.empty() && ep.base.back() == '/') ep.base.pop_back();
  if (!token.empty()) ep.headers.push_back("Authorization: Bearer " + token);
  return ep;
}

std::vector<RemoteFile> parse_hf_tree(const std::string& body) {
  std::vector<RemoteFile> out;
  try {
    const json j = json::parse(body);
    if (!j.is_array()) throw DownloadError("the hub's file listing is not a JSON array");
    for (const auto& e : j) {
      if (!e.is_object() || e.value("type", "") != "file") continue;
      RemoteFile f;
      f.path = e.at("path").get<std::string>();
      f.size = size_of(e.at("size"));
      if (e.contains("lfs") && e["lfs"].is_object()) {
        f.sha256 = e["lfs"].value("oid", "");
        if (e["lfs"].contains("size")) f.size = size_of(e["lfs"].at("size"));
      }
      check_file(f);
      out.push_back(f);
    }
  } catch (const json::exception& e) {
    throw DownloadError(std::string("the hub's file listing is malformed: ") + e.what());
  }
  return out;
}

std::vector<RemoteFile> parse_modelscope_files(const std::string& body) {
  std::vector<RemoteFile> out;
  try {
    const json j = json::parse(body);
    if (j.contains("Code") && !(j["Code"].is_number_unsigned() && j["Code"].get<uint64_t>() == 200))
      throw DownloadError("ModelScope: " + j.value("Message", std::string("error ") + j["Code"].dump()));
    for (const auto& e : j.at("Data").at("Files")) {
      if (e.value("Type", "") != "blob") continue;
      RemoteFile f{e.at("Path").get<std::string>(), size_of(e.at("Size")), e.value("Sha256", "")};
      check_file(f);
      out.push_back(f);
    }
  } catch (const json::exception& e) {
    throw DownloadError(std::string("ModelScope's file listing is malformed: ") + e.what());
  }
  return out;
}

std::vector<RemoteFile> list_repo_files(HttpClient& http, const HubEndpoint& ep, const ModelRef& ref, const DownloadPolicy& policy) {
  const std::string rev = url_encode(ref.revision_or_default());
  if (ep.source == HubSource::ModelScope) {
    const std::string url = ep.base + "/api/v1/models/" + ref.repo + "/repo/files?Revision=" + rev + "&Recursive=true";
    return parse_modelscope_files(get_listing(http, url, ref, ep, policy).body);
  }
  std::vector<RemoteFile> out;
  std::string url = ep.base + "/api/models/" + ref.repo + "/tree/" + rev + "?recursive=true";
  for (int page = 0; !url.empty(); ++page) {
    if (page == 1000) throw DownloadError("the hub's file listing of " + ref.repo + " does not end");
    const HttpReply r = get_listing(http, url, ref, ep, policy);
    auto files = parse_hf_tree(r.body);
    out.insert(out.end(), files.begin(), files.end());
    url = next_link(r.header("link"));
    // The token goes only to the hub itself.
    if (!url.empty() && url.rfind(ep.base + "/", 0) != 0) throw DownloadError("the hub's listing points elsewhere: " + url.substr(0, 200));
  }
  return out;
}

std::string file_url(const HubEndpoint& ep, const ModelRef& ref, const std::string& path) {
  const std::string rev = url_encode(ref.revision_or_default());
  if (ep.source == HubSource::ModelScope)
    return ep.base + "/api/v1/models/" + ref.repo + "/repo?Revision=" + rev + "&FilePath=" + url_encode(path);
  return ep.base + "/" + ref.repo + "/resolve/" + rev + "/" + encode_path(path);
}

}  // namespace qs::hub
