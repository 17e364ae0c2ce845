#include "tokenizer/tokenizer.h"

#include "gguf/gguf_file.h"
#include "tokenizer/nfc.h"

namespace qs {

namespace {

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

}  // namespace

Tokenizer Tokenizer::load(const std::string& path) {
  if (ends_with(path, ".json")) return from_hf_json(path);
  const auto f = GgufFile::open(path);
  return from_gguf(*f);
}

Tokenizer Tokenizer::from_gguf(const GgufFile& f) {
  std::optional<Vocab> v = Vocab::from_gguf(f);
  if (!v) throw TokenizerError(f.path() + ": the file carries no tokenizer (no tokenizer.ggml.tokens)");
  if (v->model() != "gpt2")
    throw TokenizerError(f.path() + ": tokenizer.ggml.model is '" + v->model() +
                         "'; only byte-level BPE ('gpt2') is supported");
  Tokenizer t;
  try {
    t.pre_ = PreTokenizer::from_name(v->pre());
  } catch (const std::invalid_argument& e) {
    throw TokenizerError(f.path() + ": " + e.what());
  }

  TokenMap map;
  map.reserve(static_cast<size_t>(v->size()));
  for (int32_t id = 0; id < v->size(); ++id) {
    map.insert_or_assign(v->token(id), id);  // a repeated text maps to its last id, as in llama.cpp
    if (v->type(id) == TokenType::Control) t.added_.add(v->token(id), id, true);
    else if (v->type(id) == TokenType::UserDefined) t.added_.add(v->token(id), id, false);
  }
  std::vector<std::pair<std::string, std::string>> merges;
  try {
    for (const std::string& m : f.get_string_array("tokenizer.ggml.merges")) merges.push_back(split_merge(m));
  } catch (const std::invalid_argument& e) {
    throw TokenizerError(f.path() + ": " + e.what());
  }
  const auto unk = f.get_uint("tokenizer.ggml.unknown_token_id");
  // llama.cpp turns BPE's ignore_merges on for Llama 3 vocabularies; GGUF does not record it.
  const bool ignore_merges = v->pre() == "llama-bpe" || v->pre() == "llama3";
  t.bpe_ = BpeModel(std::move(map), merges, ignore_merges,
                    unk && *unk < static_cast<uint64_t>(v->size()) ? static_cast<int32_t>(*unk) : -1);
  // GGUF does not record the normalizer. Qwen2's tokenizer.json (and so R1-Distill-Qwen's) has
  // "normalizer": {"type": "NFC"}; llama.cpp ignores it, but HF, the reference, applies it, so we do
  // too: the two agree on text that is already NFC and we follow HF where they differ.
  t.nfc_ = v->pre() == "qwen2" || v->pre() == "deepseek-r1-qwen";
  t.vocab_ = std::move(*v);
  return t;
}

std::vector<int32_t> Tokenizer::encode(std::string_view text, bool add_bos, bool parse_special) const {
  std::vector<int32_t> out;
  out.reserve(text.size() / 3 + 2);
  if (add_bos && vocab_.bos() >= 0) out.push_back(vocab_.bos());
  auto plain = [&](std::string_view s) {
    std::string prefixed;
    if (pre_.add_prefix_space() && !s.empty() && s.front() != ' ') {
      prefixed.reserve(s.size() + 1);
      prefixed.push_back(' ');
      prefixed.append(s);
      s = prefixed;
    }
    for (std::string_view piece : pre_.split(s)) bpe_.encode(piece, out);
  };
  if (!nfc_) {
    if (added_.empty()) {
      plain(text);
      return out;
    }
    for (const AddedTokens::Segment& seg : added_.split(text, parse_special)) {
      if (seg.id >= 0) out.push_back(seg.id);
      else plain(seg.text);
    }
    return out;
  }
  // HF's order: tokens with normalized=false on the raw text, NFC on what lies between them, then
  // the normalized tokens on that, then pre-tokenization and BPE.
  std::string storage;
  std::vector<AddedTokens::Segment> raw, normed;
  added_.raw_pass(text, parse_special, raw);
  for (const AddedTokens::Segment& seg : raw) {
    if (seg.id >= 0) {
      out.push_back(seg.id);
      continue;
    }
    const std::string_view norm = nfc_normalize(seg.text, storage);
    normed.clear();
    added_.normalized_pass(norm, parse_special, normed);
    for (const AddedTokens::Segment& sub : normed) {
      if (sub.id >= 0) out.push_back(sub.id);
      else plain(sub.text);
    }
  }
  return out;
}

std::string Tokenizer::token_bytes(int32_t id, bool skip_special) const {
  if (id < 0 || id >= vocab_.size())
    throw std::out_of_range("token id " + std::to_string(id) + " is outside the vocabulary (size " +
                            std::to_string(vocab_.size()) + ")");
  return vocab_.token_bytes(id, skip_special);
}

std::string Tokenizer::decode(const std::vector<int32_t>& ids, bool skip_special) const {
  std::string out;
  for (int32_t id : ids) out += token_bytes(id, skip_special);
  return out;
}

}  // namespace qs
