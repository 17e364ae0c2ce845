#include "tokenizer/added_tokens.h"

#include <algorithm>

namespace qs {

int32_t AddedTokens::Trie::child(int32_t n, unsigned char c) const {
  const auto& kids = nodes[static_cast<size_t>(n)].kids;
  const auto it = std::lower_bound(kids.begin(), kids.end(), c,
                                   [](const std::pair<unsigned char, int32_t>& k, unsigned char v) { return k.first < v; });
  return it != kids.end() && it->first == c ? it->second : -1;
}

void AddedTokens::add(const std::string& text, int32_t id, bool special, bool late) {
  if (text.empty()) return;
  Trie& t = tries_[late ? 1 : 0];
  int32_t n = 0;
  for (unsigned char c : text) {
    int32_t k = t.child(n, c);
    if (k < 0) {
      k = static_cast<int32_t>(t.nodes.size());
      t.nodes.emplace_back();
      auto& kids = t.nodes[static_cast<size_t>(n)].kids;
      kids.insert(std::lower_bound(kids.begin(), kids.end(), std::make_pair(c, k)), {c, k});
    }
    n = k;
  }
  Node& leaf = t.nodes[static_cast<size_t>(n)];
  if (leaf.id < 0) ++count_;
  if (leaf.id < 0 || !special) {  // the same text twice: prefer the always-matched entry
    leaf.id = id;
    leaf.special = special;
  }
}

void AddedTokens::split_with(const Trie& t, std::string_view text, bool parse_special, std::vector<Segment>& out) {
  size_t plain = 0;  // start of the ordinary text not yet emitted
  size_t i = 0;
  while (i < text.size()) {
    // The longest usable token starting at i.
    int32_t best_id = -1;
    size_t best_len = 0;
    int32_t n = 0;
    for (size_t j = i; j < text.size(); ++j) {
      n = t.child(n, static_cast<unsigned char>(text[j]));
      if (n < 0) break;
      const Node& node = t.nodes[static_cast<size_t>(n)];
      if (node.id >= 0 && (parse_special || !node.special)) {
        best_id = node.id;
        best_len = j + 1 - i;
      }
    }
    if (best_id < 0) {
      ++i;
      continue;
    }
    if (i > plain) out.push_back({text.substr(plain, i - plain), -1});
    out.push_back({text.substr(i, best_len), best_id});
    i += best_len;
    plain = i;
  }
  if (plain < text.size()) out.push_back({text.substr(plain), -1});
}

void AddedTokens::normalized_pass(std::string_view text, bool parse_special, std::vector<Segment>& out) const {
  if (tries_[1].nodes.size() == 1) {
    if (!text.empty()) out.push_back({text, -1});
    return;
  }
  split_with(tries_[1], text, parse_special, out);
}

std::vector<AddedTokens::Segment> AddedTokens::split(std::string_view text, bool parse_special) const {
  std::vector<Segment> first;
  split_with(tries_[0], text, parse_special, first);
  if (tries_[1].nodes.size() == 1) return first;
  std::vector<Segment> out;
  for (const Segment& s : first) {
    if (s.id >= 0) out.push_back(s);
    else split_with(tries_[1], s.text, parse_special, out);
  }
  return out;
}

}  // namespace qs
