#include "chat/reasoning.h"

#include <algorithm>

namespace qs {

namespace {

constexpr std::string_view kOpen = kThinkOpen;
constexpr std::string_view kClose = kThinkClose;

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

size_t skip_space(std::string_view s) {
  size_t i = 0;
  while (i < s.size() && is_space(s[i])) ++i;
  return i;
}

std::string_view trim_right(std::string_view s) {
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  return s;
}

// Length of the longest suffix of s that is a proper prefix of tag: text that may be the
// beginning of the tag, to hold back until the next piece decides.
size_t partial_tag_suffix(std::string_view s, std::string_view tag) {
  for (size_t k = std::min(s.size(), tag.size() - 1); k > 0; --k)
    if (s.substr(s.size() - k) == tag.substr(0, k)) return k;
  return 0;
}

}  // namespace

ReasoningSplitter::ReasoningSplitter(ReasoningOptions opt)
    : starts_in_reasoning_(opt.starts_in_reasoning) {}

ReasoningText ReasoningSplitter::push(std::string_view piece) {
  ReasoningText out;
  if (finished_) return out;
  pending_.append(piece);
  step(out);
  return out;
}

ReasoningText ReasoningSplitter::finish() {
  ReasoningText out;
  if (finished_) return out;
  finished_ = true;
  switch (state_) {
    case State::Start:  // only whitespace or a partial "<think>" arrived
      if (starts_in_reasoning_) {
        state_ = State::Reasoning;
        emit_reasoning(trim_right(pending_), out);
      } else {
        out.content = std::move(pending_);
        state_ = State::Plain;
      }
      break;
    case State::Reasoning:  // no closing tag: everything stays reasoning
      emit_reasoning(trim_right(pending_), out);
      break;
    case State::Answer:  // only leading whitespace can be pending, and it is dropped
    case State::Plain:
      break;
  }
  pending_.clear();
  return out;
}

void ReasoningSplitter::emit_reasoning(std::string_view text, ReasoningText& out) {
  if (!reasoning_started_) text.remove_prefix(skip_space(text));
  if (text.empty()) return;
  reasoning_started_ = true;
  out.reasoning.append(text);
}

void ReasoningSplitter::step(ReasoningText& out) {
  for (;;) {
    switch (state_) {
      case State::Start: {
        const std::string_view rest = std::string_view(pending_).substr(skip_space(pending_));
        if (rest.substr(0, kOpen.size()) == kOpen) {
          pending_.erase(0, pending_.size() - rest.size() + kOpen.size());
          state_ = State::Reasoning;
          continue;
        }
        if (rest.size() < kOpen.size() && kOpen.substr(0, rest.size()) == rest) return;  // undecided yet
        state_ = starts_in_reasoning_ ? State::Reasoning : State::Plain;
        continue;
      }
      case State::Plain:
        out.content.append(pending_);
        pending_.clear();
        return;
      case State::Reasoning: {
        const size_t close = pending_.find(kClose);
        if (close != std::string::npos) {
          emit_reasoning(trim_right(std::string_view(pending_).substr(0, close)), out);
          pending_.erase(0, close + kClose.size());
          state_ = State::Answer;
          continue;
        }
        // Emit up to the last non-space character before a possible partial "</think>": trailing
        // whitespace is only shown once more reasoning follows it.
        size_t end = pending_.size() - partial_tag_suffix(pending_, kClose);
        while (end > 0 && is_space(pending_[end - 1])) --end;
        emit_reasoning(std::string_view(pending_).substr(0, end), out);
        pending_.erase(0, end);
        return;
      }
      case State::Answer:
        if (!content_started_) {
          pending_.erase(0, skip_space(pending_));
          if (pending_.empty()) return;
          content_started_ = true;
        }
        out.content.append(pending_);
        pending_.clear();
        return;
    }
  }
}

ReasoningText split_reasoning(std::string_view text, ReasoningOptions opt) {
  ReasoningSplitter s(opt);
  ReasoningText out = s.push(text);
  ReasoningText tail = s.finish();
  out.reasoning += tail.reasoning;
  out.content += tail.content;
  return out;
}

std::string strip_reasoning(std::string_view assistant_content) {
  const size_t close = assistant_content.rfind(kClose);
  if (close == std::string_view::npos) return std::string(assistant_content);
  return std::string(assistant_content.substr(close + kClose.size()));
}

void strip_reasoning_from_history(nlohmann::ordered_json& messages) {
  if (!messages.is_array()) return;
  for (auto& m : messages) {
    if (!m.is_object()) continue;
    m.erase("reasoning_content");
    const auto role = m.find("role");
    const auto content = m.find("content");
    if (role == m.end() || *role != "assistant" || content == m.end() || !content->is_string()) continue;
    *content = strip_reasoning(content->get_ref<const std::string&>());
  }
}

}  // namespace qs
