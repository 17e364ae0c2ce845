#include "cli/chat_session.h"

#include <algorithm>
#include <chrono>
#include <stdexcept>

#include "chat/reasoning.h"
#include "tokenizer/incremental_decoder.h"
#include "tokenizer/utf8.h"

namespace qs::cli {

namespace {

using Clock = std::chrono::steady_clock;
using json = nlohmann::ordered_json;

constexpr int kPromptChunk = 256;  // prompt tokens per forward call: bounds memory, lets Ctrl-C in

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

bool ends_with_think(std::string_view s) {
  while (!s.empty() && (s.back() == ' ' || s.back() == '\n' || s.back() == '\r' || s.back() == '\t')) s.remove_suffix(1);
  return s.size() >= 7 && s.substr(s.size() - 7) == "<think>";
}

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
    : model_(model), tok_(tok), tmpl_(tmpl), n_ctx_(n_ctx) {
  if (tok.bos() >= 0 && tok.bos() < tok.size()) bos_ = tok.vocab().token(tok.bos());
  if (tok.eos() >= 0 && tok.eos() < tok.size()) eos_ = tok.vocab().token(tok.eos());
  // The generation prompt is what add_generation_prompt appends to a conversation.
  const json probe = json::array({message("user", "hi")});
  std::string with, without;
  try {
    with = render(probe, true);
    without = render(probe, false);
  } catch (const std::exception& e) {
    throw std::runtime_error(std::string("the chat template does not render: ") + e.what());
  }
  const std::string_view gen = with.compare(0, without.size(), without) == 0 ? std::string_view(with).substr(without.size())
                                                                            : std::string_view(with);
  reasoning_template_ = gen.find("<think>") != std::string_view::npos;
  // End-of-turn markers some vocabularies have besides eos/eot (doc §6.6: <|EOT|> for DeepSeek).
  for (int32_t id = 0; id < tok.size(); ++id) {
    if (tok.vocab().type(id) != TokenType::Control) continue;
    const std::string& t = tok.vocab().token(id);
    if (t == "<|EOT|>" || t == "<|im_end|>" || t == "<|eot_id|>" || t == "<|end_of_text|>" || t == "<|endoftext|>")
      extra_stops_.push_back(id);
  }
  seq_ = model.new_sequence(n_ctx);
}

std::string ChatSession::render(const json& messages, bool add_generation_prompt) const {
  return tmpl_.render(messages, json(), add_generation_prompt, bos_, eos_);
}

std::vector<int32_t> ChatSession::prompt_tokens(const std::string& system) const {
  json msgs = json::array();
  if (!system.empty()) msgs.push_back(message("system", system));
  for (const auto& m : messages_) msgs.push_back(m);
  const std::string text = render(msgs, true);
  std::vector<int32_t> ids = tok_.encode(text, /*add_bos=*/false, /*parse_special=*/true);
  // Templates normally write the BOS text themselves; add the id only where one is due and missing.
  if (tok_.add_bos() && tok_.bos() >= 0 && (ids.empty() || ids.front() != tok_.bos())) ids.insert(ids.begin(), tok_.bos());
  return ids;
}

bool ChatSession::begin_turn(const std::string& user, const ChatSettings& s) {
  messages_.push_back(message("user", sanitize_utf8(user)));
  std::vector<int32_t> ids;
  try {
    ids = prompt_tokens(s.system);
  } catch (...) {
    messages_.erase(messages_.size() - 1);
    throw;
  }
  if (ids.empty() || static_cast<int>(ids.size()) + 1 > n_ctx_) {
    messages_.erase(messages_.size() - 1);
    return false;
  }
  prompt_ = std::move(ids);
  prompt_opens_reasoning_ = ends_with_think(tok_.decode(prompt_));
  return true;
}

bool ChatSession::is_stop(int32_t id) const {
  return tok_.is_eog(id) || std::find(extra_stops_.begin(), extra_stops_.end(), id) != extra_stops_.end();
}

// Control tokens are not shown, except the think tags a reasoning model may have as control tokens.
bool ChatSession::shown(int32_t id) const {
  if (tok_.vocab().type(id) != TokenType::Control) return true;
  const std::string& t = tok_.vocab().token(id);
  return t == "<think>" || t == "</think>";
}

TurnStats ChatSession::generate(const ChatSettings& s, const std::function<void(std::string_view)>& on_text,
                                const volatile std::sig_atomic_t* stop) {
  TurnStats st;
  st.prompt_tokens = static_cast<int>(prompt_.size());
  const auto t0 = Clock::now();

  // Keep the longest common prefix of the cache and the new prompt. Positions past n_past are
  // never read, so moving n_past back truncates the cache; a history the template re-renders
  // differently (R1 drops old reasoning) costs only the tokens after the first difference.
  size_t common = 0;
  while (prefix_reuse_ && common < cached_.size() && common < prompt_.size() && cached_[common] == prompt_[common]) ++common;
  if (common == prompt_.size()) --common;  // the last prompt token is evaluated again for its logits
  cached_.resize(common);
  seq_->n_past = static_cast<int>(common);
  st.reused_tokens = static_cast<int>(common);

  std::vector<float> logits(static_cast<size_t>(model_.n_vocab()));
  for (size_t i = common; i < prompt_.size(); i += kPromptChunk) {
    if (stop && *stop) {
      st.interrupted = true;
      break;
    }
    const int n = static_cast<int>(std::min<size_t>(kPromptChunk, prompt_.size() - i));
    model_.forward(*seq_, prompt_.data() + i, n, logits.data(), false);
    cached_.insert(cached_.end(), prompt_.begin() + static_cast<std::ptrdiff_t>(i), prompt_.begin() + static_cast<std::ptrdiff_t>(i) + n);
  }
  st.prompt_seconds = seconds_since(t0);

  SamplingParams sp = s.sampling;
  sp.seed += turn_counter_++;  // different turns sample differently, yet a run is reproducible
  Sampler sampler(sp);
  IncrementalDecoder decoder(tok_);
  std::vector<int32_t> history = cached_, answer;
  const auto t1 = Clock::now();
  while (!st.interrupted) {
    if (answer.size() >= static_cast<size_t>(std::max(s.max_tokens, 0))) {
      st.hit_max_tokens = true;
      break;
    }
    const int32_t id = sampler.sample(logits.data(), model_.n_vocab(), history);
    if (is_stop(id)) break;
    answer.push_back(id);
    history.push_back(id);
    if (shown(id)) on_text(decoder.push(id).text);
    if (stop && *stop) {
      st.interrupted = true;
      break;
    }
    if (seq_->n_past + 1 > n_ctx_) {
      st.context_full = true;
      break;
    }
    if (static_cast<int>(answer.size()) >= s.max_tokens) continue;  // its logits are never needed
    model_.forward(*seq_, &id, 1, logits.data(), false);
    cached_.push_back(id);
  }
  on_text(decoder.finish().text);
  if (answer.empty() && st.interrupted) {  // stopped before answering: forget the question
    messages_.erase(messages_.size() - 1);
    return st;
  }
  st.generated_tokens = static_cast<int>(answer.size());
  st.generate_seconds = seconds_since(t1);

  // The history keeps the raw text (special tokens included) so that re-rendering it reproduces the
  // cached tokens; reasoning templates get it without earlier reasoning, as DeepSeek's API wants.
  messages_.push_back(message("assistant", sanitize_utf8(tok_.decode(answer))));
  if (reasoning_template_) strip_reasoning_from_history(messages_);
  return st;
}

}  // namespace qs::cli
