// Which GGUF files of a repository a tag names. Repositories hold several quants, often each a split set
// in its own folder (`Q4_K_M/DeepSeek-R1-Q4_K_M-00001-of-00009.gguf`); a tag picks one of them.
#pragma once
#include <string>
#include <vector>

namespace qs::hub {

// One model in a repository: a single GGUF or a whole split set (shards in order).
struct RepoModel {
  std::string tag;                 // its quant label ("Q4_K_M", "UD-IQ1_S"), else its file name
  std::vector<std::string> files;  // repository paths
};

// The GGUF models among a repository's file paths (projector files left out). Throws std::runtime_error
// when a split set in the listing lacks a shard.
std::vector<RepoModel> repo_models(const std::vector<std::string>& paths);

// True when `tag` appears in `path` case-insensitively as a whole part: bounded on both sides by the start,
// the end or one of - _ . / ("Q4_0" matches "Q4_0/x-00001-of-00002.gguf" and "x-Q4_0.gguf", not "x-Q4_01").
bool tag_matches(const std::string& path, const std::string& tag);

// The model `tag` names ("" = Q4_K_M when there is one, else the only model). Throws std::runtime_error
// naming the tags the repository has when none or several match.
RepoModel choose_model(const std::vector<std::string>& paths, const std::string& tag, const std::string& repo);

}  // namespace qs::hub
