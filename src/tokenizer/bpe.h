// Byte-level BPE: the rank-ordered merging of one pre-tokenized piece's byte symbols into vocabulary
// ids. Vocabulary and merges are written in GPT-2's byte-to-unicode alphabet, as in tokenizer.json
// and GGUF.
#pragma once
#include <array>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace qs {

struct StringHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};
using TokenMap = std::unordered_map<std::string, int32_t, StringHash, std::equal_to<>>;

class BpeModel {
 public:
  BpeModel() = default;
  // vocab: token text (byte-level alphabet) -> id. merges in priority order; a merge whose parts or
  // result are not in the vocabulary can never apply and is dropped. ignore_merges: a piece that is
  // itself a token is emitted whole (HF BPE `ignore_merges`, Llama 3). unk: id for a byte with no
  // token (-1: drop it; byte-level vocabularies have all 256).
  BpeModel(TokenMap vocab, const std::vector<std::pair<std::string, std::string>>& merges, bool ignore_merges,
           int32_t unk);

  // Appends the ids of one piece (raw bytes, any content).
  void encode(std::string_view piece, std::vector<int32_t>& out) const;
  // Id of a token given in the byte-level alphabet, or -1.
  int32_t find(std::string_view text) const;
  size_t n_merges() const { return merges_.size(); }

 private:
  TokenMap vocab_;
  // (left id, right id) -> (rank, merged id)
  std::unordered_map<uint64_t, std::pair<int32_t, int32_t>> merges_;
  std::array<int32_t, 256> byte_ids_{};
  bool ignore_merges_ = false;
  int32_t unk_ = -1;
};

// "a b" -> {"a", "b"}: split at the first space after the first character (a token may itself be
// a lone space in vocabularies that are not byte-level). Throws std::invalid_argument if none.
std::pair<std::string, std::string> split_merge(const std::string& m);

// Raw bytes -> the byte-level alphabet (each byte one code point, UTF-8 encoded).
std::string bytes_to_byte_level(std::string_view bytes);

}  // namespace qs
