// qiusuo template --template FILE.jinja --messages FILE.json [--add-generation-prompt] [--bos S] [--eos S]
// Renders a chat template exactly as Hugging Face apply_chat_template would, and prints only that text.
#include <cstdio>
#include <fstream>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <string>

#include <nlohmann/json.hpp>

#include "chat/chat_template.h"
#include "cli/commands.h"
#include "util/file_io.h"

namespace qs::cli {

namespace {

struct TemplateArgs {
  std::string template_file, messages_file, bos, eos;
  bool add_generation_prompt = false;
};

void run_template(const TemplateArgs& a) {
  const std::string tmpl = read_file(a.template_file);
  nlohmann::ordered_json doc;
  try {
    doc = nlohmann::ordered_json::parse(read_file(a.messages_file));
  } catch (const nlohmann::json::parse_error& e) {
    throw std::runtime_error(a.messages_file + ": invalid JSON: " + e.what());
  }
  nlohmann::ordered_json messages, tools;  // tools stays null (None) unless given
  if (doc.is_array()) {
    messages = doc;
  } else if (doc.is_object() && doc.contains("messages")) {
    messages = doc["messages"];
    if (doc.contains("tools")) tools = doc["tools"];
  } else {
    throw std::runtime_error(a.messages_file + ": expected {\"messages\": [...], \"tools\": [...]} or a list of messages");
  }
  const std::string out = render_chat_template(tmpl, messages, tools, a.add_generation_prompt, a.bos, a.eos);
  std::fwrite(out.data(), 1, out.size(), stdout);  // byte-exact: nothing added
  std::fflush(stdout);
}

}  // namespace

void register_template(CLI::App& app) {
  auto args = std::make_shared<TemplateArgs>();
  CLI::App* cmd = app.add_subcommand("template", "Render a chat template (Jinja) for a conversation, as HF does");
  cmd->add_option("--template", args->template_file, "Chat template file (.jinja)")->required();
  cmd->add_option("--messages", args->messages_file, "JSON file: {\"messages\": [...], \"tools\": [...]}")->required();
  cmd->add_flag("--add-generation-prompt", args->add_generation_prompt, "Append the assistant turn opener");
  cmd->add_option("--bos", args->bos, "bos_token string");
  cmd->add_option("--eos", args->eos, "eos_token string");
  cmd->callback([args] { run_template(*args); });
}

}  // namespace qs::cli
