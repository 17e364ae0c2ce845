#include "tokenizer/hf_vocab_to_gguf.h"

#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <stdexcept>

namespace qs {

namespace {

using json = nlohmann::json;

json read_json(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  if (!in) throw std::runtime_error("cannot open " + p.string());
  try {
    return json::parse(in);
  } catch (const json::exception& e) {
    throw std::runtime_error(p.string() + ": invalid JSON: " + e.what());
  }
}

void collect_patterns(const json& pt, std::vector<std::string>* patterns, bool* bytelevel_regex) {
  if (!pt.is_object()) return;
  const std::string type = pt.value("type", "");
  if (type == "Sequence" && pt.contains("pretokenizers")) {
    for (const json& p : pt["pretokenizers"]) collect_patterns(p, patterns, bytelevel_regex);
  } else if (type == "Split" && pt.contains("pattern") && pt["pattern"].is_object()) {
    const json& pat = pt["pattern"];
    if (pat.contains("Regex") && pat["Regex"].is_string()) patterns->push_back(pat["Regex"]);
    if (pat.contains("String") && pat["String"].is_string()) patterns->push_back(pat["String"]);
  } else if (type == "ByteLevel") {
    *bytelevel_regex |= pt.value("use_regex", true);
  }
}

bool any_equal(const std::vector<std::string>& v, const std::string& s) {
  for (const auto& x : v)
    if (x == s) return true;
  return false;
}
bool any_contains(const std::vector<std::string>& v, const std::string& s) {
  for (const auto& x : v)
    if (x.find(s) != std::string::npos) return true;
  return false;
}

// convert_hf_to_gguf.py's does_token_look_special: added tokens llama.cpp treats as CONTROL even
// when tokenizer.json does not flag them special (DeepSeek's <｜...｜> tokens among them).
bool looks_special(const std::string& t) {
  auto wrapped = [&](const std::string& a, const std::string& b) {
    return t.size() >= a.size() + b.size() && t.compare(0, a.size(), a) == 0 &&
           t.compare(t.size() - b.size(), b.size(), b) == 0;
  };
  return t == "<pad>" || t == "<mask>" || t == "<2mass>" || t == "[@BOS@]" || wrapped("<|", "|>") ||
         wrapped("<\xef\xbd\x9c", "\xef\xbd\x9c>") || wrapped("<unused", ">");
}

std::string replace_all(std::string s, const std::string& from, const std::string& to) {
  for (size_t p = 0; (p = s.find(from, p)) != std::string::npos; p += to.size()) s.replace(p, from.size(), to);
  return s;
}

// tokenizer_config.json's bos_token etc. are strings or {"content": ...} objects.
std::string token_content(const json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_object() && v.contains("content") && v["content"].is_string()) return v["content"].get<std::string>();
  return {};
}

void append_utf8(std::string* s, uint32_t cp) {
  if (cp < 0x80) {
    s->push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    s->push_back(static_cast<char>(0xc0 | (cp >> 6)));
    s->push_back(static_cast<char>(0x80 | (cp & 0x3f)));
  } else {
    s->push_back(static_cast<char>(0xe0 | (cp >> 12)));
    s->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3f)));
    s->push_back(static_cast<char>(0x80 | (cp & 0x3f)));
  }
}

}  // namespace

// GPT-2 bytes_to_unicode: printable bytes map to themselves, the other 68 to U+0100.. in byte order.
std::string gpt2_byte_token(int b) {
  static const std::vector<uint32_t> table = [] {
    std::vector<uint32_t> t(256);
    uint32_t next = 256;
    for (int c = 0; c < 256; ++c) {
      const bool printable = (c >= 0x21 && c <= 0x7e) || (c >= 0xa1 && c <= 0xac) || (c >= 0xae && c <= 0xff);
      t[c] = printable ? static_cast<uint32_t>(c) : next++;
    }
    return t;
  }();
  std::string s;
  append_utf8(&s, table[static_cast<size_t>(b)]);
  return s;
}

std::string pad_token(int64_t id) { return "[PAD" + std::to_string(id) + "]"; }

std::string detect_pre_tokenizer(const json& pre_tokenizer, bool has_deepseek_bos) {
  std::vector<std::string> pats;
  bool bytelevel_regex = false;
  collect_patterns(pre_tokenizer, &pats, &bytelevel_regex);
  if (any_equal(pats, R"(\p{N}{1,3})") && any_contains(pats, "[\xe4\xb8\x80-")) return "deepseek-v3";  // [一-
  if (any_equal(pats, "[\r\n]") && any_equal(pats, R"(\p{N}+)")) return "deepseek-llm";
  if (any_contains(pats, R"(\p{L}+|\p{N}| ?)")) return has_deepseek_bos ? "deepseek-r1-qwen" : "qwen2";
  if (any_contains(pats, R"(\p{L}+|\p{N}{1,3}| ?)")) return "llama-bpe";
  if (pats.empty() && bytelevel_regex) return "gpt2";
  return {};
}

GgufVocab vocab_from_hf(const std::string& tokenizer_json, int64_t min_vocab, const std::string& pre_override) {
  const std::filesystem::path path(tokenizer_json);
  const json tok = read_json(path);
  const std::string label = path.string();
  if (!tok.contains("model") || !tok["model"].is_object()) throw std::runtime_error(label + ": no \"model\" section");
  const json& model = tok["model"];
  if (model.value("type", "") != "BPE")
    throw std::runtime_error(label + ": only BPE tokenizers are supported (model.type is '" +
                             model.value("type", std::string("?")) + "')");

  // id -> (text, type); added tokens override the base vocabulary.
  std::map<int64_t, std::pair<std::string, TokenType>> by_id;
  for (const auto& [text, id] : model.at("vocab").items()) by_id[id.get<int64_t>()] = {text, TokenType::Normal};
  std::map<std::string, int64_t> added_ids;
  bool has_deepseek_bos = false;
  for (const json& a : tok.value("added_tokens", json::array())) {
    const int64_t id = a.at("id").get<int64_t>();
    std::string text = a.at("content").get<std::string>();
    added_ids[text] = id;
    has_deepseek_bos |= text == "<\xef\xbd\x9c" "begin\xe2\x96\x81of\xe2\x96\x81sentence\xef\xbd\x9c>";
    TokenType type = TokenType::Control;
    if (!a.value("special", false) && !looks_special(text)) {
      type = TokenType::UserDefined;
      text = replace_all(text, "\xe2\x96\x81", " ");  // llama.cpp pre-normalises user-defined "▁"
    }
    by_id[id] = {std::move(text), type};
  }
  if (by_id.empty() || by_id.begin()->first < 0) throw std::runtime_error(label + ": empty or negative token ids");
  const int64_t n_vocab = std::max(by_id.rbegin()->first + 1, min_vocab);

  std::vector<std::string> tokens(static_cast<size_t>(n_vocab));
  std::vector<int32_t> types(static_cast<size_t>(n_vocab), static_cast<int32_t>(TokenType::Unused));
  for (int64_t i = 0; i < n_vocab; ++i) {
    auto it = by_id.find(i);
    if (it == by_id.end()) {
      tokens[i] = pad_token(i);
    } else {
      tokens[i] = it->second.first;
      types[i] = static_cast<int32_t>(it->second.second);
    }
  }

  std::vector<std::string> merges;
  for (const json& m : model.value("merges", json::array())) {
    if (m.is_string()) {
      merges.push_back(m.get<std::string>());
    } else if (m.is_array() && m.size() == 2) {
      merges.push_back(m[0].get<std::string>() + " " + m[1].get<std::string>());
    } else {
      throw std::runtime_error(label + ": a merge is neither \"a b\" nor [a, b]");
    }
  }

  std::string pre = pre_override;
  if (pre.empty()) pre = detect_pre_tokenizer(tok.value("pre_tokenizer", json()), has_deepseek_bos);
  if (pre.empty())
    throw std::runtime_error(label + ": unrecognised pre_tokenizer; pass --tokenizer-pre NAME "
                             "(e.g. deepseek-v3, deepseek-llm, deepseek-r1-qwen, qwen2, llama-bpe, gpt2)");

  GgufVocab v;
  v.n_vocab = n_vocab;
  v.kv.emplace_back("tokenizer.ggml.model", GgufValue::make_str("gpt2"));
  v.kv.emplace_back("tokenizer.ggml.pre", GgufValue::make_str(pre));
  v.kv.emplace_back("tokenizer.ggml.tokens", GgufValue::make_str_array(std::move(tokens)));
  v.kv.emplace_back("tokenizer.ggml.token_type", GgufValue::make_i32_array(types));
  v.kv.emplace_back("tokenizer.ggml.merges", GgufValue::make_str_array(std::move(merges)));

  const std::filesystem::path cfg_path = path.parent_path() / "tokenizer_config.json";
  if (std::filesystem::exists(cfg_path)) {
    const json cfg = read_json(cfg_path);
    auto id_of = [&](const char* field) -> int64_t {
      if (!cfg.contains(field)) return -1;
      const std::string content = token_content(cfg[field]);
      if (content.empty()) return -1;
      if (auto it = added_ids.find(content); it != added_ids.end()) return it->second;
      if (model.at("vocab").contains(content)) return model["vocab"][content].get<int64_t>();
      return -1;
    };
    const std::pair<const char*, const char*> ids[] = {{"bos_token", "tokenizer.ggml.bos_token_id"},
                                                       {"eos_token", "tokenizer.ggml.eos_token_id"},
                                                       {"unk_token", "tokenizer.ggml.unknown_token_id"},
                                                       {"pad_token", "tokenizer.ggml.padding_token_id"}};
    for (const auto& [field, key] : ids)
      if (const int64_t id = id_of(field); id >= 0) v.kv.emplace_back(key, GgufValue::make_u32(static_cast<uint32_t>(id)));
    for (const char* flag : {"add_bos_token", "add_eos_token"})
      if (cfg.contains(flag) && cfg[flag].is_boolean())
        v.kv.emplace_back(std::string("tokenizer.ggml.") + flag, GgufValue::make_bool(cfg[flag].get<bool>()));
    if (cfg.contains("chat_template")) {
      const json& ct = cfg["chat_template"];
      if (ct.is_string()) {
        v.kv.emplace_back("tokenizer.chat_template", GgufValue::make_str(ct.get<std::string>()));
      } else if (ct.is_array()) {  // named templates: "default" is the main one
        for (const json& t : ct) {
          const std::string name = t.value("name", "");
          const std::string key = name == "default" ? "tokenizer.chat_template" : "tokenizer.chat_template." + name;
          if (!name.empty() && t.contains("template") && t["template"].is_string())
            v.kv.emplace_back(key, GgufValue::make_str(t["template"].get<std::string>()));
        }
      }
    }
  }
  return v;
}

}  // namespace qs
