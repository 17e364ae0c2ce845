// The slash commands of `qiusuo run` (/set, /show, /clear, /bye, /?).
#pragma once
#include <cstdio>
#include <string>

#include "cli/chat_session.h"

namespace qs::cli {

struct ReplState {
  ChatSettings settings;
  std::string model_path;
  bool verbose = false;
  bool show_thinking = true;
};

enum class CommandResult { Handled, Clear, Exit };

// line starts with '/'. Replies (help, settings, errors in the command) go to out.
CommandResult handle_command(const std::string& line, ReplState& st, const ChatSession& session, std::FILE* out);

}  // namespace qs::cli
