#include "tokenizer/bpe.h"

#include <algorithm>
#include <stdexcept>

#include "tokenizer/utf8.h"
#include "tokenizer/vocab.h"

namespace qs {

namespace {

uint64_t pair_key(int32_t a, int32_t b) {
  return (static_cast<uint64_t>(static_cast<uint32_t>(a)) << 32) | static_cast<uint32_t>(b);
}

struct Sym {
  int32_t id;
  int32_t prev, next;  // -1 at the ends
  bool alive;
};

struct Candidate {
  int32_t rank;
  int32_t left;  // index of the left symbol: its original byte offset, so smaller = further left
  int32_t left_id, right_id, merged;
  // Lowest rank first; among equal ranks the leftmost (as HF and llama.cpp do).
  bool operator>(const Candidate& o) const { return rank != o.rank ? rank > o.rank : left > o.left; }
};

}  // namespace

std::pair<std::string, std::string> split_merge(const std::string& m) {
  const size_t sp = m.size() > 1 ? m.find(' ', 1) : std::string::npos;
  if (sp == std::string::npos) throw std::invalid_argument("merge '" + m + "' is not of the form \"a b\"");
  return {m.substr(0, sp), m.substr(sp + 1)};
}

std::string bytes_to_byte_level(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size() * 2);
  for (char c : bytes) utf8_append(out, byte_to_codepoint(static_cast<uint8_t>(c)));
  return out;
}

BpeModel::BpeModel(TokenMap vocab, const std::vector<std::pair<std::string, std::string>>& merges,
                   bool ignore_merges, int32_t unk)
    : vocab_(std::move(vocab)), ignore_merges_(ignore_merges), unk_(unk) {
  for (int b = 0; b < 256; ++b) byte_ids_[b] = find(bytes_to_byte_level(std::string(1, static_cast<char>(b))));
  merges_.reserve(merges.size());
  for (size_t r = 0; r < merges.size(); ++r) {
    const auto& [a, b] = merges[r];
    const int32_t ia = find(a), ib = find(b), im = find(a + b);
    if (ia < 0 || ib < 0 || im < 0) continue;
    merges_.emplace(pair_key(ia, ib), std::make_pair(static_cast<int32_t>(r), im));  // first (best) rank wins
  }
}

int32_t BpeModel::find(std::string_view text) const {
  const auto it = vocab_.find(text);
  return it == vocab_.end() ? -1 : it->second;
}

void BpeModel::encode(std::string_view piece, std::vector<int32_t>& out) const {
  if (piece.empty()) return;
  if (ignore_merges_) {
    if (const int32_t id = find(bytes_to_byte_level(piece)); id >= 0) {
      out.push_back(id);
      return;
    }
  }
  // Scratch kept per thread: pieces are short and numerous, so allocation would dominate.
  thread_local std::vector<Sym> syms;
  thread_local std::vector<Candidate> heap;
  const auto n = static_cast<int32_t>(piece.size());
  syms.resize(static_cast<size_t>(n));
  for (int32_t i = 0; i < n; ++i)
    syms[i] = {byte_ids_[static_cast<uint8_t>(piece[i])], i - 1, i + 1 < n ? i + 1 : -1, true};

  heap.clear();
  auto consider = [&](int32_t l) {
    if (l < 0 || syms[l].next < 0) return;
    const int32_t r = syms[l].next;
    if (syms[l].id < 0 || syms[r].id < 0) return;
    const auto it = merges_.find(pair_key(syms[l].id, syms[r].id));
    if (it == merges_.end()) return;
    heap.push_back({it->second.first, l, syms[l].id, syms[r].id, it->second.second});
    std::push_heap(heap.begin(), heap.end(), std::greater<>{});
  };
  for (int32_t i = 0; i + 1 < n; ++i) consider(i);

  while (!heap.empty()) {
    std::pop_heap(heap.begin(), heap.end(), std::greater<>{});
    const Candidate c = heap.back();
    heap.pop_back();
    Sym& l = syms[c.left];
    // Stale if either side has changed since this candidate was queued.
    if (!l.alive || l.id != c.left_id || l.next < 0 || syms[l.next].id != c.right_id) continue;
    const int32_t r = l.next;
    l.id = c.merged;
    syms[r].alive = false;
    l.next = syms[r].next;
    if (l.next >= 0) syms[l.next].prev = c.left;
    consider(l.prev);
    consider(c.left);
  }
  for (int32_t i = 0; i >= 0; i = syms[i].next) {
    if (syms[i].id >= 0) out.push_back(syms[i].id);
    else if (unk_ >= 0) out.push_back(unk_);
  }
}

}  // namespace qs
