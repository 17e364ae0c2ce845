// Where pulled models live: $QIUSUO_MODELS, else $XDG_CACHE_HOME/qiusuo/models, else
// ~/.cache/qiusuo/models; one folder per source, repository and revision holding the files under their
// repository paths and a manifest (files, sizes, SHA-256, which tag named which files). Every verb resolves
// a reference here without the network.
#pragma once
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "hub/model_ref.h"

namespace qs::hub {

std::string models_root();

struct ManifestFile {
  std::string path;  // repository path
  uint64_t size = 0;
  std::string sha256;
};

struct Manifest {
  std::string source, repo, revision;
  std::vector<ManifestFile> files;
  std::map<std::string, std::vector<std::string>> tags;  // tag (as typed, and the model's label) -> its files
  std::string default_tag;                               // what a bare owner/repo chose
};

inline constexpr const char* kManifestName = "qiusuo-manifest.json";

std::string source_name(HubSource s);
// root/SOURCE/OWNER/NAME/REVISION
std::string repo_cache_dir(const ModelRef& ref);
std::optional<Manifest> read_manifest(const std::string& dir);
void write_manifest(const std::string& dir, const Manifest& m);  // atomically (temporary file + rename)

// A repository path that is safe to create under the cache: relative, no "." / ".." / empty parts, no
// backslashes or control characters.
bool safe_repo_path(const std::string& p);

// The files (repository paths) `tag` names in a manifest ("" = its default); empty when none.
std::vector<std::string> tag_files(const Manifest& m, const std::string& tag);

// The local path of the (first) file of the model `ref` names, when all its files are in the cache with
// the sizes recorded; nullopt otherwise.
std::optional<std::string> find_cached(const ModelRef& ref);

struct CachedModel {
  std::string ref;   // owner/repo:TAG
  uint64_t bytes = 0;
  std::string path;  // first file
};
std::vector<CachedModel> list_cached();

// Deletes the files of the model `ref` names (a repository folder goes when nothing is left in it);
// returns the bytes freed. Throws std::runtime_error when it is not in the cache.
uint64_t remove_cached(const ModelRef& ref);

}  // namespace qs::hub
