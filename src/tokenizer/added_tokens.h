// Added (special and user-defined) tokens: found in the text before pre-tokenization and emitted
// as their ids, never split by BPE. Matching is leftmost-longest, as in HF `tokenizers`.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace qs {

class AddedTokens {
 public:
  // special: matched only when the caller parses special tokens (HF `special`, GGUF CONTROL);
  // the others (HF non-special, GGUF USER_DEFINED) are always matched, as HF and llama.cpp do.
  // HF matches tokens with normalized=false first, then normalized ones in what is left; late
  // puts a token in that second pass.
  void add(const std::string& text, int32_t id, bool special, bool late = false);
  bool empty() const { return count_ == 0; }

  struct Segment {
    std::string_view text;
    int32_t id;  // -1: ordinary text to pre-tokenize
  };
  std::vector<Segment> split(std::string_view text, bool parse_special) const;
  // split's two passes apart, for a caller that normalizes in between as HF does: raw_pass matches
  // the normalized=false tokens on the raw text; normalized_pass the others, on one ordinary
  // segment of raw_pass after normalization. Both append to out.
  void raw_pass(std::string_view text, bool parse_special, std::vector<Segment>& out) const {
    split_with(tries_[0], text, parse_special, out);
  }
  void normalized_pass(std::string_view text, bool parse_special, std::vector<Segment>& out) const;

 private:
  struct Node {
    std::vector<std::pair<unsigned char, int32_t>> kids;  // sorted by byte
    int32_t id = -1;
    bool special = false;
  };
  struct Trie {
    std::vector<Node> nodes{Node{}};
    int32_t child(int32_t n, unsigned char c) const;
  };
  static void split_with(const Trie& t, std::string_view text, bool parse_special, std::vector<Segment>& out);

  Trie tries_[2];
  size_t count_ = 0;
};

}  // namespace qs
