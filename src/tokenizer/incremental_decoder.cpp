#include "tokenizer/incremental_decoder.h"

#include <algorithm>

#include "tokenizer/tokenizer.h"
#include "tokenizer/utf8.h"

namespace qs {

IncrementalDecoder::IncrementalDecoder(const Tokenizer& tok, std::vector<std::string> stop_strings, bool skip_special)
    : tok_(&tok), skip_special_(skip_special) {
  for (auto& s : stop_strings)
    if (!s.empty()) stops_.push_back(std::move(s));
}

IncrementalDecoder::Step IncrementalDecoder::push(int32_t id) {
  if (stopped_) return {};
  return push_bytes(tok_->token_bytes(id, skip_special_));
}

IncrementalDecoder::Step IncrementalDecoder::push_bytes(std::string_view bytes) {
  Step st;
  if (stopped_) return st;
  pending_.append(bytes);

  // The earliest stop string wins; at equal positions the longest (it contains the others' text).
  // Nothing emitted so far can hold the start of one: such suffixes are always held back below.
  size_t best = std::string::npos;
  const std::string* hit = nullptr;
  for (const std::string& s : stops_) {
    const size_t p = pending_.find(s);
    if (p != std::string::npos && (p < best || (p == best && s.size() > hit->size()))) {
      best = p;
      hit = &s;
    }
  }
  if (hit) {
    st.text = pending_.substr(0, best);
    st.stopped = stopped_ = true;
    st.stop = *hit;
    pending_.clear();
    return st;
  }

  // Hold back an unfinished UTF-8 character and the longest tail that begins some stop string.
  size_t keep_from = utf8_complete_prefix(pending_);
  for (const std::string& s : stops_) {
    const size_t max_k = std::min(s.size() - 1, pending_.size());
    for (size_t k = max_k; k > 0; --k) {
      if (pending_.compare(pending_.size() - k, k, s, 0, k) == 0) {
        keep_from = std::min(keep_from, pending_.size() - k);
        break;
      }
    }
  }
  st.text = pending_.substr(0, keep_from);
  pending_.erase(0, keep_from);
  return st;
}

IncrementalDecoder::Step IncrementalDecoder::finish() {
  Step st;
  if (stopped_) return st;
  st.text = std::move(pending_);
  pending_.clear();
  return st;
}

}  // namespace qs
