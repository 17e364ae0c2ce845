// Turns a chat completion's generated text, as it streams in, into what the OpenAI / DeepSeek
// API shows: reasoning_content split from content (R1-style <think>), tool calls parsed out of
// the model's tool-call block (content after the block's opening marker is held back while
// streaming), per-token logprobs, and the final message / finish_reason / usage.
#pragma once
#include <string>
#include <vector>

#include "chat/reasoning.h"
#include "chat/tool_calls.h"
#include "server/api_error.h"
#include "engine/scheduler.h"

namespace qs {
class Tokenizer;
}

namespace qs::server {

json logprob_json(const Tokenizer& tok, const TokenLogprob& lp);

class ChatOutput {
 public:
  struct Options {
    bool starts_in_reasoning = false;  // the prompt ended in an open <think>
    bool tools = false;                // parse tool calls
    bool logprobs = false;
  };
  ChatOutput(const Tokenizer& tok, Options o);

  struct Delta {
    std::string content, reasoning;
    json logprobs = json::array();  // entries for the tokens of this delta
    json tool_calls;                // finish(): the parsed calls as stream deltas (or null)
    bool empty() const { return content.empty() && reasoning.empty() && logprobs.empty() && tool_calls.is_null(); }
  };
  Delta push(const GenEvent& delta);  // a Delta event
  Delta finish(const GenEvent& done);  // the Done event: flushes everything

  json message() const;  // {role, content, reasoning_content?, tool_calls?}
  const std::string& finish_reason() const { return finish_reason_; }
  int reasoning_tokens() const { return reasoning_tokens_; }
  const json& logprobs() const { return all_logprobs_; }
  bool shows_reasoning() const { return opt_.starts_in_reasoning || splitter_.saw_reasoning(); }

 private:
  void add_content(const std::string& c, Delta& d);
  void add_text(const ReasoningText& t, Delta& d);

  const Tokenizer& tok_;
  Options opt_;
  ReasoningSplitter splitter_;
  std::string content_all_, reasoning_all_;
  std::string pending_;  // content not yet emitted (may be the start of a tool-call marker)
  bool holding_ = false; // a tool-call block began: the rest is held
  std::vector<ToolCall> calls_;
  std::string final_content_;
  bool parsed_calls_ = false;
  std::string finish_reason_ = "stop";
  int reasoning_tokens_ = 0;
  json all_logprobs_ = json::array();
};

json usage_json(const GenEvent& done, int reasoning_tokens);

}  // namespace qs::server
