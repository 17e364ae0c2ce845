// Tokenizer::from_hf_json: a Hugging Face tokenizer.json (+ tokenizer_config.json beside it).
#include <filesystem>
#include <fstream>
#include <map>

#include <nlohmann/json.hpp>

#include "tokenizer/nfc.h"
#include "tokenizer/tokenizer.h"

namespace qs {

namespace {

using json = nlohmann::json;

json read_json(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  if (!in) throw TokenizerError(p.string() + ": cannot open");
  try {
    return json::parse(in);
  } catch (const json::exception& e) {
    throw TokenizerError(p.string() + ": not valid JSON: " + e.what());
  }
}

// Normalizers we honour: none, an empty Sequence, and NFC (see Tokenizer::normalizes_nfc()).
void check_normalizer(const json& n, bool* nfc, const std::string& label) {
  if (n.is_null()) return;
  const std::string type = n.value("type", "");
  if (type == "Sequence") {
    for (const json& sub : n.value("normalizers", json::array())) check_normalizer(sub, nfc, label);
  } else if (type == "NFC") {
    *nfc = true;
  } else {
    throw TokenizerError(label + ": unsupported normalizer '" + type + "'");
  }
}

// tokenizer_config.json names tokens either as a string or as an AddedToken object.
std::string token_content(const json& j) {
  if (j.is_string()) return j.get<std::string>();
  if (j.is_object()) return j.value("content", "");
  return {};
}

}  // namespace

Tokenizer Tokenizer::from_hf_json(const std::string& path_str) {
  const std::filesystem::path path(path_str);
  const json tok = read_json(path);
  const std::string label = path.string();
  try {
    if (!tok.is_object() || !tok.contains("model") || !tok["model"].is_object())
      throw TokenizerError(label + ": no \"model\" section");
    const json& model = tok["model"];
    if (model.value("type", "BPE") != "BPE")
      throw TokenizerError(label + ": only BPE models are supported (model.type is '" +
                           model.value("type", std::string()) + "')");

    Tokenizer t;
    check_normalizer(tok.value("normalizer", json()), &t.nfc_, label);
    t.pre_ = PreTokenizer::from_hf_json(tok.value("pre_tokenizer", json()));

    // id -> text/type; added tokens override the model vocabulary (their text is plain, not byte-level).
    std::map<int32_t, std::pair<std::string, TokenType>> by_id;
    std::map<std::string, int32_t> id_of;
    TokenMap bpe_vocab;
    // Ids as JSON numbers of any size: one outside [0, 2^31) is named as it is, not wrapped.
    auto token_id = [&](const json& v) {
      if (!v.is_number_integer()) throw TokenizerError(label + ": token id " + v.dump() + " is not an integer");
      if (v.is_number_unsigned() ? v.get<uint64_t>() > uint64_t{INT32_MAX} : v.get<int64_t>() < 0 || v.get<int64_t>() > INT32_MAX)
        throw TokenizerError(label + ": token id " + v.dump() + " is outside [0, 2^31)");
      return static_cast<int32_t>(v.get<int64_t>());
    };
    for (const auto& [text, id] : model.at("vocab").items()) {
      const auto i = token_id(id);
      by_id[i] = {text, TokenType::Normal};
      id_of[text] = i;
      bpe_vocab.emplace(text, i);
    }
    for (const json& a : tok.value("added_tokens", json::array())) {
      const auto id = token_id(a.at("id"));
      const std::string content = a.at("content").get<std::string>();
      const bool special = a.value("special", false);
      by_id[id] = {content, special ? TokenType::Control : TokenType::UserDefined};
      id_of[content] = id;
      // HF matches normalized tokens on normalized text, so it normalizes their content too.
      const bool normalized = a.value("normalized", !special);
      std::string storage;
      t.added_.add(normalized && t.nfc_ ? std::string(nfc_normalize(content, storage)) : content, id, special,
                   normalized);
    }
    if (by_id.empty()) throw TokenizerError(label + ": empty vocabulary");
    const auto n = static_cast<size_t>(by_id.rbegin()->first) + 1;
    if (n > (1u << 24)) throw TokenizerError(label + ": token ids too large");
    std::vector<std::string> tokens(n);
    std::vector<TokenType> types(n, TokenType::Unused);  // holes in the id space decode to nothing
    for (auto& [id, tt] : by_id) {
      tokens[static_cast<size_t>(id)] = std::move(tt.first);
      types[static_cast<size_t>(id)] = tt.second;
    }

    std::vector<std::pair<std::string, std::string>> merges;
    for (const json& m : model.value("merges", json::array())) {
      if (m.is_string()) merges.push_back(split_merge(m.get<std::string>()));
      else if (m.is_array() && m.size() == 2) merges.emplace_back(m[0].get<std::string>(), m[1].get<std::string>());
      else throw TokenizerError(label + ": a merge is neither \"a b\" nor [a, b]");
    }
    int32_t unk = -1;
    if (model.contains("unk_token") && model["unk_token"].is_string()) {
      const auto it = id_of.find(model["unk_token"].get<std::string>());
      if (it != id_of.end()) unk = it->second;
    }
    t.bpe_ = BpeModel(std::move(bpe_vocab), merges, model.value("ignore_merges", false), unk);

    auto lookup = [&](const std::string& s) -> int32_t {
      const auto it = id_of.find(s);
      return it == id_of.end() ? -1 : it->second;
    };
    // BOS: a TemplateProcessing post-processor that starts with a special token adds it; the
    // config's add_bos_token / bos_token (what transformers obeys) override.
    int32_t bos = -1, eos = -1;
    bool add_bos = false;
    const json pp = tok.value("post_processor", json());
    if (pp.is_object() && pp.value("type", "") == "TemplateProcessing" && pp.contains("single") &&
        !pp["single"].empty() && pp["single"][0].contains("SpecialToken")) {
      bos = lookup(pp["single"][0]["SpecialToken"].value("id", ""));
      add_bos = bos >= 0;
    }
    const std::filesystem::path cfg_path = path.parent_path() / "tokenizer_config.json";
    if (std::filesystem::exists(cfg_path)) {
      const json cfg = read_json(cfg_path);
      if (cfg.contains("bos_token")) bos = lookup(token_content(cfg["bos_token"]));
      if (cfg.contains("eos_token")) eos = lookup(token_content(cfg["eos_token"]));
      if (cfg.contains("add_bos_token") && cfg["add_bos_token"].is_boolean()) add_bos = cfg["add_bos_token"].get<bool>();
    }
    int32_t eot = -1;  // an extra end-of-turn token some vocabularies carry (doc §6.6)
    for (const char* s : {"<|EOT|>", "<|eot_id|>", "<|im_end|>"})
      if (eot < 0) eot = lookup(s);
    t.vocab_ = Vocab::from_parts("gpt2", "tokenizer.json", std::move(tokens), std::move(types), bos, eos, eot,
                                 add_bos && bos >= 0);
    return t;
  } catch (const json::exception& e) {
    throw TokenizerError(label + ": unexpected tokenizer.json layout: " + e.what());
  } catch (const std::invalid_argument& e) {
    throw TokenizerError(label + ": " + e.what());
  } catch (const RegexError& e) {
    throw TokenizerError(label + ": " + e.what());
  }
}

}  // namespace qs
