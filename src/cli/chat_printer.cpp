#include "cli/chat_printer.h"

namespace qs::cli {

namespace {
constexpr std::string_view kDim = "\x1b[2m";
constexpr std::string_view kReset = "\x1b[0m";
}  // namespace

ReplyPrinter::ReplyPrinter(std::FILE* out, bool color, bool show_thinking, bool starts_in_reasoning)
    : split_(ReasoningOptions{starts_in_reasoning}), out_(out), color_(color), show_thinking_(show_thinking) {}

void ReplyPrinter::write(std::string_view s) {
  if (s.empty()) return;
  std::fwrite(s.data(), 1, s.size(), out_);
  last_ = s.back();
}

void ReplyPrinter::show(const ReasoningText& t) {
  if (!t.reasoning.empty() && show_thinking_) {
    if (phase_ == Phase::None) {
      if (color_) write(kDim);
      write("Thinking...\n");
      phase_ = Phase::Thinking;
    }
    write(t.reasoning);
  }
  if (!t.content.empty()) {
    if (phase_ == Phase::Thinking) {
      write("\n...done thinking.");
      if (color_) write(kReset);
      write("\n\n");
    }
    phase_ = Phase::Answer;
    write(t.content);
  }
  std::fflush(out_);  // the point of streaming is to see tokens as they come
}

void ReplyPrinter::text(std::string_view piece) {
  if (!finished_) show(split_.push(piece));
}

void ReplyPrinter::finish() {
  if (finished_) return;
  finished_ = true;
  show(split_.finish());
  if (phase_ == Phase::Thinking) {  // the reasoning never closed (max tokens, interrupted)
    write("\n...done thinking.");
    if (color_) write(kReset);
  }
  if (last_ != '\n') write("\n");
  std::fflush(out_);
}

}  // namespace qs::cli
