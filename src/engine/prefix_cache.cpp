#include "engine/prefix_cache.h"

#include <algorithm>

namespace qs {

size_t common_prefix(const std::vector<int32_t>& a, const std::vector<int32_t>& b) {
  const size_t n = std::min(a.size(), b.size());
  size_t i = 0;
  while (i < n && a[i] == b[i]) ++i;
  return i;
}

PrefixCache::PrefixCache(const ModelConfig& c, GgmlType type, size_t max_bytes, size_t min_tokens)
    : config_(c), type_(type), max_bytes_(max_bytes), min_tokens_(std::max<size_t>(1, min_tokens)) {}

PrefixCache::Match PrefixCache::find(const std::vector<int32_t>& tokens) {
  Match best;
  auto best_it = entries_.end();
  for (auto it = entries_.begin(); it != entries_.end(); ++it) {
    const size_t l = common_prefix(it->tokens, tokens);
    if (l > best.length) {
      best.length = l;
      best_it = it;
    }
  }
  if (best_it == entries_.end() || best.length < min_tokens_) return {};
  entries_.splice(entries_.begin(), entries_, best_it);
  best.cache = entries_.front().kv.get();
  return best;
}

void PrefixCache::insert(const std::vector<int32_t>& tokens, const KvCache& src) {
  if (tokens.size() < min_tokens_ || max_bytes_ == 0) return;
  const size_t need = src.bytes_per_token() * tokens.size();
  if (need > max_bytes_) return;
  for (auto it = entries_.begin(); it != entries_.end();) {
    const size_t l = common_prefix(it->tokens, tokens);
    if (l == tokens.size()) {  // already covered
      entries_.splice(entries_.begin(), entries_, it);
      return;
    }
    if (l == it->tokens.size()) {  // superseded by the longer one
      bytes_ -= it->bytes;
      it = entries_.erase(it);
    } else {
      ++it;
    }
  }
  while (!entries_.empty() && bytes_ + need > max_bytes_) {
    bytes_ -= entries_.back().bytes;
    entries_.pop_back();
  }
  Entry e;
  e.tokens = tokens;
  e.kv = std::make_unique<KvCache>(config_, static_cast<int>(tokens.size()), type_);
  e.kv->copy_positions(src, 0, 0, static_cast<int>(tokens.size()));
  e.bytes = e.kv->bytes();
  bytes_ += e.bytes;
  entries_.push_front(std::move(e));
}

void PrefixCache::clear() {
  entries_.clear();
  bytes_ = 0;
}

}  // namespace qs
