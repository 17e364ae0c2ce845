#include "cli/chat_commands.h"

#include <cerrno>
#include <cstdlib>
#include <sstream>

namespace qs::cli {

namespace {

constexpr const char* kHelp =
    "Available commands:\n"
    "  /set temperature T   sampling temperature (0 = greedy)\n"
    "  /set top_p P         nucleus sampling (1 = off)\n"
    "  /set top_k K         top-k sampling (0 = off)\n"
    "  /set min_p P         min-p sampling (0 = off)\n"
    "  /set seed N          random seed\n"
    "  /set max_tokens N    tokens per answer\n"
    "  /set system TEXT     system prompt (empty: none)\n"
    "  /set verbose|quiet   show or hide speed after each answer\n"
    "  /set think|nothink   thinking on/off (DeepSeek-V3.1+ templates); show/hide R1-style reasoning\n"
    "  /show                current settings\n"
    "  /clear               forget the conversation\n"
    "  /bye                 exit\n"
    "  /?                   this help\n"
    "Use \"\"\" to begin and end a multi-line message.\n";

bool parse_double(const std::string& s, double& out) {
  if (s.empty()) return false;
  errno = 0;
  char* end = nullptr;
  out = std::strtod(s.c_str(), &end);
  return errno == 0 && end && *end == '\0';
}

bool parse_count(const std::string& s, long long& out) {
  if (s.empty()) return false;
  errno = 0;
  char* end = nullptr;
  out = std::strtoll(s.c_str(), &end, 10);
  return errno == 0 && end && *end == '\0' && out >= 0;
}

void set_value(const std::string& key, const std::string& value, ReplState& st, std::FILE* out) {
  SamplingParams& sp = st.settings.sampling;
  double d = 0;
  long long n = 0;
  if (key == "system") {
    st.settings.system = value;
    std::fprintf(out, value.empty() ? "Cleared system message.\n" : "Set system message.\n");
  } else if (key == "verbose" || key == "quiet") {
    st.verbose = key == "verbose";
    std::fprintf(out, "Set %s mode.\n", key.c_str());
  } else if ((key == "think" && (value.empty() || value == "on" || value == "off")) || (key == "nothink" && value.empty())) {
    // As in ollama: thinking on or off for templates with the switch (DeepSeek-V3.1+), and the reasoning
    // shown or hidden for those that always think (R1).
    const bool on = key == "think" && value != "off";
    st.show_thinking = on;
    st.settings.thinking = on;
    std::fprintf(out, on ? "Thinking on: reasoning is requested (where the template has the switch) and shown.\n"
                         : "Thinking off: not requested (where the template has the switch); R1-style reasoning is hidden.\n");
  } else if (key == "temperature" && parse_double(value, d) && d >= 0) {
    sp.temperature = static_cast<float>(d);
    std::fprintf(out, "Set temperature to %g.\n", d);
  } else if (key == "top_p" && parse_double(value, d) && d > 0 && d <= 1) {
    sp.top_p = static_cast<float>(d);
    std::fprintf(out, "Set top_p to %g.\n", d);
  } else if (key == "min_p" && parse_double(value, d) && d >= 0 && d <= 1) {
    sp.min_p = static_cast<float>(d);
    std::fprintf(out, "Set min_p to %g.\n", d);
  } else if (key == "top_k" && parse_count(value, n) && n <= 1000000) {
    sp.top_k = static_cast<int>(n);
    std::fprintf(out, "Set top_k to %lld.\n", n);
  } else if (key == "seed" && parse_count(value, n)) {
    sp.seed = static_cast<uint64_t>(n);
    std::fprintf(out, "Set seed to %lld.\n", n);
  } else if ((key == "max_tokens" || key == "num_predict") && parse_count(value, n) && n <= 1000000000) {
    st.settings.max_tokens = static_cast<int>(n);
    std::fprintf(out, "Set max_tokens to %lld.\n", n);
  } else {
    std::fprintf(out, "Cannot set '%s' to '%s'. Type /? for help.\n", key.c_str(), value.c_str());
  }
}

void show(const ReplState& st, const ChatSession& session, std::FILE* out) {
  const SamplingParams& sp = st.settings.sampling;
  std::fprintf(out, "model:        %s\n", st.model_path.c_str());
  std::fprintf(out, "template:     %s\n", session.thinking_switch()    ? "thinking switch (/set think, /set nothink)"
                                          : session.reasoning_template() ? "reasoning (<think>)"
                                                                         : "chat");
  std::fprintf(out, "temperature:  %g\n", sp.temperature);
  std::fprintf(out, "top_p:        %g\n", sp.top_p);
  std::fprintf(out, "top_k:        %d\n", sp.top_k);
  std::fprintf(out, "min_p:        %g\n", sp.min_p);
  std::fprintf(out, "seed:         %llu\n", static_cast<unsigned long long>(sp.seed));
  std::fprintf(out, "max_tokens:   %d\n", st.settings.max_tokens);
  std::fprintf(out, "context:      %d of %d tokens in cache, %zu turns\n", session.tokens_in_cache(), session.context_size(),
               session.turns());
  std::fprintf(out, "system:       %s\n", st.settings.system.empty() ? "(none)" : st.settings.system.c_str());
  std::fprintf(out, "verbose:      %s\n", st.verbose ? "on" : "off");
}

}  // namespace

CommandResult handle_command(const std::string& line, ReplState& st, const ChatSession& session, std::FILE* out) {
  std::istringstream in(line);
  std::string cmd;
  in >> cmd;
  if (cmd == "/bye" || cmd == "/exit" || cmd == "/quit") return CommandResult::Exit;
  if (cmd == "/clear") {
    std::fprintf(out, "Cleared session context.\n");
    return CommandResult::Clear;
  }
  if (cmd == "/show") {
    show(st, session, out);
  } else if (cmd == "/?" || cmd == "/help") {
    std::fputs(kHelp, out);
  } else if (cmd == "/set") {
    std::string key;
    in >> key;
    std::string value;
    std::getline(in >> std::ws, value);  // the rest of the line: a system prompt has spaces
    if (key.empty()) std::fputs(kHelp, out);
    else set_value(key, value, st, out);
  } else {
    std::fprintf(out, "Unknown command '%s'. Type /? for help.\n", cmd.c_str());
  }
  std::fflush(out);
  return CommandResult::Handled;
}

}  // namespace qs::cli
