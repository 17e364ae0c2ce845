#include "cli/chat_session.h"

#include <algorithm>
#include <stdexcept>

#include "chat/reasoning.h"
#include "tokenizer/utf8.h"

namespace qs::cli {

namespace {

using json = nlohmann::ordered_json;

constexpr int kPromptChunk = 256;  // prompt tokens per forward call: bounds memory, lets Ctrl-C in

json message(const char* role, const std::string& content) { return json{{"role", role}, {"content", content}}; }

}  // namespace

std::string sanitize_utf8(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  size_t i = 0;
  while (i < s.size()) {
    const int want = utf8_seq_len(static_cast<uint8_t>(s[i]));
    bool ok = want > 0 && i + static_cast<size_t>(want) <= s.size();
    for (int k = 1; ok && k < want; ++k) ok = (static_cast<uint8_t>(s[i + k]) & 0xC0) == 0x80;
    if (ok && want == 3) {  // overlong forms and surrogates
      const uint8_t a = static_cast<uint8_t>(s[i]), b = static_cast<uint8_t>(s[i + 1]);
      ok = !(a == 0xE0 && b < 0xA0) && !(a == 0xED && b >= 0xA0);
    }
    if (ok && want == 4) {
      const uint8_t a = static_cast<uint8_t>(s[i]), b = static_cast<uint8_t>(s[i + 1]);
      ok = !(a == 0xF0 && b < 0x90) && !(a == 0xF4 && b >= 0x90);
    }
    if (ok) {
      out.append(s.substr(i, static_cast<size_t>(want)));
      i += static_cast<size_t>(want);
    } else {
      utf8_append(out, 0xFFFD);
      ++i;
    }
  }
  return out;
}

ChatSession::ChatSession(const Model& model, const Tokenizer& tok, const std::string& tmpl, int n_ctx)
    : model_(model), tok_(tok), tmpl_(tmpl), prompt_builder_(tok, tmpl_), rules_(tok), n_ctx_(n_ctx) {
  if (!prompt_builder_.probe_error().empty())
    throw std::runtime_error("the chat template does not render: " + prompt_builder_.probe_error());
  reasoning_template_ = prompt_builder_.reasoning_template();
  seq_ = model.new_sequence(n_ctx);
}

std::vector<int32_t> ChatSession::prompt_tokens(const ChatSettings& s) const {
  json msgs = json::array();
  if (!s.system.empty()) msgs.push_back(message("system", s.system));
  for (const auto& m : messages_) msgs.push_back(m);
  json kwargs = json::object();
  if (s.thinking && prompt_builder_.thinking_switch()) kwargs["thinking"] = *s.thinking;
  return prompt_builder_.tokens(prompt_builder_.render(msgs, json(), true, kwargs));
}

bool ChatSession::begin_turn(const std::string& user, const ChatSettings& s) {
  messages_.push_back(message("user", sanitize_utf8(user)));
  std::vector<int32_t> ids;
  try {
    ids = prompt_tokens(s);
  } catch (...) {
    messages_.erase(messages_.size() - 1);
    throw;
  }
  if (ids.empty() || static_cast<int>(ids.size()) + 1 > n_ctx_) {
    messages_.erase(messages_.size() - 1);
    return false;
  }
  prompt_ = std::move(ids);
  prompt_opens_reasoning_ = opens_reasoning(tok_.decode(prompt_));
  return true;
}

TurnStats ChatSession::generate(const ChatSettings& s, const std::function<void(std::string_view)>& on_text,
                                const volatile std::sig_atomic_t* stop) {
  TurnStats st;
  st.prompt_tokens = static_cast<int>(prompt_.size());

  // Keep the longest common prefix of the cache and the new prompt. Positions past n_past are
  // never read, so moving n_past back truncates the cache; a history the template re-renders
  // differently (R1 drops old reasoning) costs only the tokens after the first difference.
  size_t common = 0;
  while (prefix_reuse_ && common < cached_.size() && common < prompt_.size() && cached_[common] == prompt_[common]) ++common;
  if (common == prompt_.size()) --common;  // the last prompt token is evaluated again for its logits
  seq_->n_past = static_cast<int>(common);
  st.reused_tokens = static_cast<int>(common);

  GenerationParams gp;
  gp.sampling = s.sampling;
  gp.sampling.seed += turn_counter_++;  // different turns sample differently, yet a run is reproducible
  Generator gen(&tok_, &rules_, gp, prompt_);
  const SequenceRun run = run_sequence(model_, *seq_, prompt_, kPromptChunk, gen, std::max(s.max_tokens, 0),
                                       [&](const Generator::Step& step) { on_text(step.text); }, stop);
  on_text(gen.finish());
  // The cache holds the prompt, then the answer tokens that were evaluated.
  cached_ = prompt_;
  cached_.insert(cached_.end(), gen.answer().begin(), gen.answer().end());
  cached_.resize(static_cast<size_t>(seq_->n_past));
  st.prompt_seconds = run.prompt_seconds;
  st.generate_seconds = run.generate_seconds;
  st.hit_max_tokens = run.reason == FinishReason::Length;
  st.context_full = run.reason == FinishReason::ContextFull;
  st.interrupted = run.reason == FinishReason::Interrupted;
  const std::vector<int32_t>& answer = gen.answer();
  if (answer.empty() && st.interrupted) {  // stopped before answering: forget the question
    messages_.erase(messages_.size() - 1);
    return st;
  }
  st.generated_tokens = static_cast<int>(answer.size());

  // The history keeps the raw text (special tokens included) so that re-rendering it reproduces the
  // cached tokens; reasoning templates get it without earlier reasoning, as DeepSeek's API wants.
  messages_.push_back(message("assistant", sanitize_utf8(tok_.decode(answer))));
  if (reasoning_template_) strip_reasoning_from_history(messages_);
  return st;
}

}  // namespace qs::cli
