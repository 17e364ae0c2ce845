// Streams an answer to the terminal: the reasoning part (between <think> and </think>) framed by
// "Thinking..." / "...done thinking." and dimmed when colour is on, then the answer itself.
#pragma once
#include <cstdio>
#include <string_view>

#include "chat/reasoning.h"

namespace qs::cli {

class ReplyPrinter {
 public:
  ReplyPrinter(std::FILE* out, bool color, bool show_thinking, bool starts_in_reasoning);
  void text(std::string_view piece);  // decoded text as it arrives
  void finish();                      // closes an open reasoning frame, ends the line

 private:
  void write(std::string_view s);
  void show(const ReasoningText& t);

  ReasoningSplitter split_;
  std::FILE* out_;
  bool color_, show_thinking_;
  enum class Phase { None, Thinking, Answer } phase_ = Phase::None;
  char last_ = '\n';
  bool finished_ = false;
};

}  // namespace qs::cli
