// A memory-bounded store of prompt prefixes and their KV rows, beside the slots' own caches.
// When a slot is about to be overwritten, what it held is saved here; an admitted request whose
// prompt shares a longer prefix with an entry than with any free slot gets those rows copied in.
// Entries are exact token prefixes from position 0 (DeepSeek's context-caching semantics) of at least
// min_tokens, evicted least recently used first to stay under the byte budget. Used by the scheduler thread only (not thread-safe).
#pragma once
#include <cstddef>
#include <cstdint>
#include <list>
#include <memory>
#include <vector>

#include "model/kv_cache.h"
#include "model/config.h"

namespace qs {

size_t common_prefix(const std::vector<int32_t>& a, const std::vector<int32_t>& b);

class PrefixCache {
 public:
  PrefixCache(const ModelConfig& c, GgmlType type, size_t max_bytes, size_t min_tokens = 4);

  struct Match {
    const KvCache* cache = nullptr;
    size_t length = 0;  // tokens of the prompt whose rows the entry holds
  };
  // The entry sharing the longest prefix with tokens (at least min_tokens), marked as used.
  Match find(const std::vector<int32_t>& tokens);
  // Saves the first tokens.size() positions of src. Skipped when too short, too big for the
  // budget, or already covered by an entry; entries that are a prefix of it are replaced.
  void insert(const std::vector<int32_t>& tokens, const KvCache& src);

  size_t bytes() const { return bytes_; }
  size_t entries() const { return entries_.size(); }
  size_t min_tokens() const { return min_tokens_; }
  void clear();

 private:
  struct Entry {
    std::vector<int32_t> tokens;
    std::unique_ptr<KvCache> kv;
    size_t bytes = 0;
  };
  const ModelConfig& config_;
  GgmlType type_;
  size_t max_bytes_;
  size_t min_tokens_;
  size_t bytes_ = 0;
  std::list<Entry> entries_;  // front: most recently used
};

}  // namespace qs
