// qiusuo tokenize / detokenize: the tokenizer on its own, for checking ids against other engines.
#include <cstdio>
#include <fstream>
#include <iostream>
#include <iterator>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "cli/cli_util.h"
#include "cli/commands.h"
#include "tokenizer/tokenizer.h"
#include "util/file_io.h"

namespace qs::cli {

namespace {

// The file's bytes exactly ("-" is standard input); no newline is added or removed.
std::string read_all(const std::string& path) {
  if (path == "-") return std::string(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
  return read_file(path);
}

std::string ids_to_json(const std::vector<int32_t>& ids) {
  std::string s = "[";
  for (size_t i = 0; i < ids.size(); ++i) {
    if (i) s += ", ";
    s += std::to_string(ids[i]);
  }
  return s + "]";
}

std::vector<int32_t> parse_json_ids(const std::string& s) {
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(s);
  } catch (const nlohmann::json::exception&) {
    throw std::invalid_argument("--ids must be a JSON array of token ids, e.g. \"[1, 2, 3]\"");
  }
  if (!j.is_array()) throw std::invalid_argument("--ids must be a JSON array of token ids");
  std::vector<int32_t> ids;
  for (const auto& v : j) {
    if (!v.is_number_integer() || v.get<int64_t>() < 0 || v.get<int64_t>() > INT32_MAX)
      throw std::invalid_argument("--ids holds a value that is not a token id: " + v.dump());
    ids.push_back(static_cast<int32_t>(v.get<int64_t>()));
  }
  return ids;
}

}  // namespace

void register_tokenize(CLI::App& app) {
  auto* cmd = app.add_subcommand("tokenize", "Print the token ids of a text as a JSON array");
  static std::string model, file, prompt;
  static bool parse_special = false, no_bos = false;
  add_model_option(cmd, model, "GGUF file with a vocabulary, or a tokenizer.json");
  auto* input = cmd->add_option_group("input", "the text to tokenize");
  input->add_option("-f,--file", file, "read the text from this file, bytes as they are ('-': stdin)");
  input->add_option("-p,--prompt", prompt, "the text itself");
  input->require_option(1);
  cmd->add_flag("--parse-special", parse_special, "turn special-token text such as <｜User｜> into its id");
  cmd->add_flag("--no-bos", no_bos, "do not prepend BOS even if the vocabulary asks for it");
  cmd->callback([] {
    const Tokenizer tok = Tokenizer::load(resolve_model_arg(model));
    const std::string text = file.empty() ? prompt : read_all(file);
    const std::vector<int32_t> ids = tok.encode(text, tok.add_bos() && !no_bos, parse_special);
    std::printf("%s\n", ids_to_json(ids).c_str());
  });
}

void register_detokenize(CLI::App& app) {
  auto* cmd = app.add_subcommand("detokenize", "Print the text of token ids, byte for byte");
  static std::string model, tokens, ids_json;
  static bool skip_special = false;
  add_model_option(cmd, model, "GGUF file with a vocabulary, or a tokenizer.json");
  auto* input = cmd->add_option_group("input", "the ids");
  input->add_option("-t,--tokens", tokens, "ids separated by commas or spaces: 1,2,3");
  input->add_option("--ids", ids_json, "ids as a JSON array: \"[1, 2, 3]\"");
  input->require_option(1);
  cmd->add_flag("--skip-special", skip_special, "leave out special (control) tokens");
  cmd->callback([] {
    const Tokenizer tok = Tokenizer::load(resolve_model_arg(model));
    const std::vector<int32_t> ids = tokens.empty() ? parse_json_ids(ids_json) : parse_token_list(tokens);
    const std::string text = tok.decode(ids, skip_special);
    std::fwrite(text.data(), 1, text.size(), stdout);
  });
}

}  // namespace qs::cli
