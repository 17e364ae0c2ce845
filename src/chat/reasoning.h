// Splits DeepSeek-R1-style output "<think>REASONING</think>ANSWER" into reasoning_content and
// content, for a whole text or for a stream of detokenized pieces (which may cut a tag anywhere).
//
// Rules (the way DeepSeek's API and llama.cpp's `--reasoning-format deepseek` present R1 output):
// * Reasoning starts either because the prompt already ended in "<think>\n" (starts_in_reasoning,
//   as the R1 template's generation prompt does) or because the output itself opens with
//   "<think>" (leading whitespace before it is dropped; with starts_in_reasoning such a repeated
//   "<think>" is dropped too). A "<think>" anywhere else is plain text.
// * Reasoning ends at the first "</think>". If that never comes, everything stays reasoning when
//   the stream ends and content is empty (DeepSeek's API does the same with a truncated CoT).
// * Whitespace: reasoning is trimmed at both ends; content after "</think>" loses its leading
//   whitespace ("\n\n" after the tag). Text without any reasoning is returned unchanged.
// * Without starts_in_reasoning and without a leading "<think>", a "</think>" is ordinary content
//   (a stream cannot take back text already shown as content).
#pragma once
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace qs {

// The tags around a reasoning block (DeepSeek-R1 and later; also the R1-Distill models).
inline constexpr std::string_view kThinkOpen = "<think>";
inline constexpr std::string_view kThinkClose = "</think>";

struct ReasoningOptions {
  bool starts_in_reasoning = false;  // the prompt ended inside an open <think> block
};

struct ReasoningText {
  std::string reasoning;  // reasoning_content
  std::string content;    // the answer
};

class ReasoningSplitter {
 public:
  explicit ReasoningSplitter(ReasoningOptions opt = {});

  // Feeds the next piece of generated text; returns what can be shown now. Text that may still
  // turn out to be part of a tag (or trailing whitespace of the reasoning) is held back.
  ReasoningText push(std::string_view piece);
  // End of the stream: flushes what was held back.
  ReasoningText finish();

  bool in_reasoning() const { return state_ == State::Reasoning || (state_ == State::Start && starts_in_reasoning_); }
  bool saw_reasoning() const { return in_reasoning() || state_ == State::Answer; }

 private:
  enum class State { Start, Reasoning, Answer, Plain };
  void step(ReasoningText& out);
  void emit_reasoning(std::string_view text, ReasoningText& out);

  bool starts_in_reasoning_;
  State state_ = State::Start;
  std::string pending_;          // received, not yet emitted
  bool reasoning_started_ = false;
  bool content_started_ = false;
  bool finished_ = false;
};

// Whole-text convenience: the same result as one push() plus finish().
ReasoningText split_reasoning(std::string_view text, ReasoningOptions opt = {});

// What the R1 template keeps of an earlier assistant turn: the text after the last "</think>"
// (unchanged when there is none).
std::string strip_reasoning(std::string_view assistant_content);
// Applies strip_reasoning to every assistant message with string content and removes any
// "reasoning_content" field (DeepSeek's API rejects it in input messages).
void strip_reasoning_from_history(nlohmann::ordered_json& messages);

}  // namespace qs
