#include "server/chat_output.h"

#include "tokenizer/tokenizer.h"

namespace qs::server {

namespace {

const char* const kMarkers[] = {"<｜tool▁calls▁begin｜>", "<｜tool▁call▁begin｜>", "<｜DSML｜function_calls>", "<tool_call>"};

// Length of the longest suffix of s that is a proper prefix of a marker.
size_t partial_marker_suffix(const std::string& s) {
  size_t best = 0;
  for (const char* m : kMarkers) {
    const std::string mk(m);
    for (size_t k = std::min(mk.size() - 1, s.size()); k > best; --k)
      if (s.compare(s.size() - k, k, mk, 0, k) == 0) {
        best = k;
        break;
      }
  }
  return best;
}

size_t find_marker(const std::string& s) {
  size_t best = std::string::npos;
  for (const char* m : kMarkers) best = std::min(best, s.find(m));
  return best;
}

json bytes_of(const std::string& s) {
  json b = json::array();
  for (unsigned char c : s) b.push_back(static_cast<int>(c));
  return b;
}

}  // namespace

json logprob_json(const Tokenizer& tok, const TokenLogprob& lp) {
  auto entry = [&](int32_t id, float v) {
    std::string t;
    try {
      t = tok.token_bytes(id);
    } catch (...) {
    }
    json e = json::object();
    e["token"] = t;
    e["logprob"] = v;
    e["bytes"] = bytes_of(t);
    return e;
  };
  json e = entry(lp.id, lp.logprob);
  json top = json::array();
  for (const auto& [id, v] : lp.top) top.push_back(entry(id, v));
  e["top_logprobs"] = std::move(top);
  return e;
}

ChatOutput::ChatOutput(const Tokenizer& tok, Options o)
    : tok_(tok), opt_(o), splitter_(ReasoningOptions{o.starts_in_reasoning}) {}

void ChatOutput::add_content(const std::string& c, Delta& d) {
  if (c.empty()) return;
  content_all_ += c;
  if (!opt_.tools) {
    d.content += c;
    return;
  }
  if (holding_) return;
  pending_ += c;
  const size_t at = find_marker(pending_);
  if (at != std::string::npos) {
    d.content += pending_.substr(0, at);
    pending_.clear();
    holding_ = true;
    return;
  }
  const size_t keep = partial_marker_suffix(pending_);
  d.content += pending_.substr(0, pending_.size() - keep);
  pending_.erase(0, pending_.size() - keep);
}

void ChatOutput::add_text(const ReasoningText& t, Delta& d) {
  if (!t.reasoning.empty()) {
    reasoning_all_ += t.reasoning;
    d.reasoning += t.reasoning;
  }
  add_content(t.content, d);
}

ChatOutput::Delta ChatOutput::push(const GenEvent& ev) {
  Delta d;
  const ReasoningText t = splitter_.push(ev.text);
  if (!t.reasoning.empty() || splitter_.in_reasoning()) ++reasoning_tokens_;
  add_text(t, d);
  if (opt_.logprobs && ev.has_logprob) {
    json e = logprob_json(tok_, ev.lp);
    d.logprobs.push_back(e);
    all_logprobs_.push_back(std::move(e));
  }
  return d;
}

ChatOutput::Delta ChatOutput::finish(const GenEvent& done) {
  Delta d;
  if (!done.text.empty()) add_text(splitter_.push(done.text), d);
  add_text(splitter_.finish(), d);
  final_content_ = content_all_;
  if (opt_.tools) {
    const ToolCallParse p = parse_tool_calls(content_all_);
    if (p.found && p.parsed && !p.calls.empty()) {
      calls_ = p.calls;
      parsed_calls_ = true;
      final_content_ = p.content;
      d.content += pending_;  // text before the block that was held as a possible marker start
      pending_.clear();
      json arr = json::array();
      for (size_t i = 0; i < calls_.size(); ++i) {
        json c = json::object();
        c["index"] = static_cast<int>(i);
        c["id"] = calls_[i].id;
        c["type"] = "function";
        c["function"] = json{{"name", calls_[i].name}, {"arguments", calls_[i].arguments}};
        arr.push_back(std::move(c));
      }
      d.tool_calls = std::move(arr);
    } else {
      // Not a (complete) tool call: everything held back is ordinary content.
      const size_t shown = content_all_.size() - pending_.size();
      (void)shown;
      if (holding_) {
        const size_t at = find_marker(content_all_);
        d.content += pending_ + (at == std::string::npos ? std::string() : content_all_.substr(at));
      } else {
        d.content += pending_;
      }
      pending_.clear();
    }
  }
  finish_reason_ = parsed_calls_ ? "tool_calls" : done.finish_reason;
  return d;
}

json ChatOutput::message() const {
  json m = json::object();
  m["role"] = "assistant";
  if (parsed_calls_ && final_content_.empty()) m["content"] = nullptr;
  else m["content"] = final_content_;
  if (shows_reasoning()) m["reasoning_content"] = reasoning_all_;
  if (parsed_calls_) {
    json arr = json::array();
    for (const auto& c : calls_)
      arr.push_back(json{{"id", c.id}, {"type", "function"}, {"function", json{{"name", c.name}, {"arguments", c.arguments}}}});
    m["tool_calls"] = std::move(arr);
  }
  return m;
}

json usage_json(const GenEvent& done, int reasoning_tokens) {
  json u = json::object();
  u["prompt_tokens"] = done.prompt_tokens;
  u["completion_tokens"] = done.completion_tokens;
  u["total_tokens"] = done.prompt_tokens + done.completion_tokens;
  u["prompt_cache_hit_tokens"] = done.cached_tokens;
  u["prompt_cache_miss_tokens"] = done.prompt_tokens - done.cached_tokens;
  u["prompt_tokens_details"] = json{{"cached_tokens", done.cached_tokens}};
  u["completion_tokens_details"] = json{{"reasoning_tokens", reasoning_tokens}};
  return u;
}

}  // namespace qs::server
