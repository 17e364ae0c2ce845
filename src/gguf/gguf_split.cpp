// Split GGUF sets (llama.cpp's gguf-split): NAME-00001-of-0000N.gguf … NAME-0000N-of-0000N.gguf, each a
// valid GGUF holding some of the tensors; the first carries the model's metadata. Every 671B file
// people download is split.
#include <cstdio>
#include <string_view>

#include "gguf/gguf_file.h"

namespace qs {

namespace {

constexpr uint64_t kMaxShards = 9999;  // the name format's five digits, and far more than any real set

}  // namespace

std::optional<ShardName> parse_shard_name(const std::string& path) {
  // NAME-00001-of-00003.gguf: "-", 5 digits, "-of-", 5 digits, ".gguf" (20 bytes after NAME).
  constexpr size_t kSuffix = 20;
  if (path.size() <= kSuffix) return std::nullopt;
  const std::string_view tail = std::string_view(path).substr(path.size() - kSuffix);
  auto digits = [](std::string_view d) {
    uint32_t v = 0;
    for (char c : d) {
      if (c < '0' || c > '9') return -1L;
      v = v * 10 + static_cast<uint32_t>(c - '0');
    }
    return static_cast<long>(v);
  };
  if (tail[0] != '-' || tail.substr(6, 4) != "-of-" || tail.substr(15) != ".gguf") return std::nullopt;
  const long i = digits(tail.substr(1, 5)), n = digits(tail.substr(10, 5));
  if (i < 0 || n < 0) return std::nullopt;
  return ShardName{path.substr(0, path.size() - kSuffix), static_cast<uint32_t>(i), static_cast<uint32_t>(n)};
}

namespace {

std::string shard_path(const std::string& prefix, uint32_t i, uint32_t count) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "-%05u-of-%05u.gguf", i, count);
  return prefix + buf;
}

}  // namespace

std::unique_ptr<GgufFile> GgufFile::open(const std::string& path) {
  std::unique_ptr<GgufFile> f = open_one(path);
  const std::optional<uint64_t> count = f->get_uint("split.count");
  if (!count || *count <= 1) return f;
  if (*count > kMaxShards) throw GgufError(path + ": split.count " + std::to_string(*count) + " is not a plausible shard count");
  const std::optional<ShardName> name = parse_shard_name(path);
  if (!name)
    throw GgufError(path + ": one shard of a split set (split.count " + std::to_string(*count) +
                    ") whose name does not follow NAME" + shard_path("", 1, static_cast<uint32_t>(*count)) +
                    ", so the other shards cannot be found");
  const uint32_t n = static_cast<uint32_t>(*count);
  if (name->count != n)
    throw GgufError(path + ": the name says " + std::to_string(name->count) + " shards but split.count is " + std::to_string(n));
  if (name->index != 1) f = open_one(shard_path(name->prefix, 1, n));  // the metadata lives in the first
  f->join_shards(name->prefix, n);
  return f;
}

void GgufFile::join_shards(const std::string& prefix, uint32_t count) {
  auto check = [&](const GgufFile& s, uint32_t index) {
    const std::optional<uint64_t> c = s.get_uint("split.count"), no = s.get_uint("split.no");
    if (!c || *c != count)
      throw GgufError(s.path_ + ": does not belong to the set of " + path_ + " (split.count " +
                      (c ? std::to_string(*c) : "missing") + ", expected " + std::to_string(count) + ")");
    if (!no || *no != index)
      throw GgufError(s.path_ + ": is shard " + (no ? std::to_string(*no + 1) : "?") + " of its set, expected shard " +
                      std::to_string(index + 1) + " of " + std::to_string(count));
  };
  check(*this, 0);
  const std::optional<uint64_t> total = get_uint("split.tensors.count");
  if (!total) throw GgufError(path_ + ": a split set's first shard without split.tensors.count");
  for (uint32_t i = 1; i < count; ++i) {
    std::unique_ptr<GgufFile> s;
    const std::string p = shard_path(prefix, i + 1, count);
    try {
      s = open_one(p);
    } catch (const GgufError& e) {
      throw GgufError(std::string(e.what()) + " (shard " + std::to_string(i + 1) + " of " + std::to_string(count) +
                      " of the set " + path_ + ")");
    }
    check(*s, i);
    if (s->get_uint("split.tensors.count") != total)
      throw GgufError(s->path_ + ": does not belong to the set of " + path_ + " (split.tensors.count differs)");
    for (GgufTensorInfo& t : s->tensors_) {
      if (tensor_index_.count(t.name))
        throw GgufError(s->path_ + ": tensor '" + t.name + "' is also in an earlier shard of the set");
      t.shard = i;
      tensor_index_[t.name] = tensors_.size();
      tensors_.push_back(t);
    }
    shards_.push_back(std::move(s));
  }
  if (tensors_.size() != *total)
    throw GgufError(path_ + ": the set's " + std::to_string(count) + " shards hold " + std::to_string(tensors_.size()) +
                    " tensors, split.tensors.count says " + std::to_string(*total));
}

size_t GgufFile::file_size() const {
  size_t n = size_;
  for (const auto& s : shards_) n += s->size_;
  return n;
}

std::vector<GgufFile::Shard> GgufFile::shards() const {
  std::vector<Shard> out;
  size_t first = 0;
  for (const GgufTensorInfo& t : tensors_) first += t.shard == 0;
  out.push_back({path_, size_, first});
  for (const auto& s : shards_) out.push_back({s->path_, s->size_, s->tensors_.size()});
  return out;
}

}  // namespace qs
