// A model hub's file listing and download addresses: Hugging Face (and mirrors speaking its API, chosen
// with HF_ENDPOINT) and ModelScope (MODELSCOPE_ENDPOINT).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "hub/download.h"
#include "hub/http_client.h"
#include "hub/model_ref.h"

namespace qs::hub {

struct RemoteFile {
  std::string path;  // repository path
  uint64_t size = 0;
  std::string sha256;  // the LFS object id ("" for files kept in git)
};

struct HubEndpoint {
  HubSource source = HubSource::HuggingFace;
  std::string base;                  // https://huggingface.co, no trailing slash
  std::vector<std::string> headers;  // Authorization when a token is set
};

// From HF_ENDPOINT / HF_TOKEN (else the token file Hugging Face's tools write: $HF_TOKEN_PATH,
// $HF_HOME/token, ~/.cache/huggingface/token), or MODELSCOPE_ENDPOINT / MODELSCOPE_API_TOKEN.
HubEndpoint hub_endpoint(HubSource source);

// Every file of the repository at ref's revision (retrying as `policy` says on 429/5xx/no answer).
// Throws DownloadError with the reason (not found, authorization, bad listing).
std::vector<RemoteFile> list_repo_files(HttpClient& http, const HubEndpoint& ep, const ModelRef& ref, const DownloadPolicy& policy);

// Where a repository file is downloaded from.
std::string file_url(const HubEndpoint& ep, const ModelRef& ref, const std::string& path);

// Parses one page of a Hugging Face tree listing / a ModelScope file listing (exposed for tests).
std::vector<RemoteFile> parse_hf_tree(const std::string& body);
std::vector<RemoteFile> parse_modelscope_files(const std::string& body);

}  // namespace qs::hub
