#include "engine/generator.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <stdexcept>
#include <string_view>

#include "chat/reasoning.h"
#include "model/model.h"
#include "tokenizer/tokenizer.h"

namespace qs {

namespace {

constexpr uint8_t kEndsTurn = 1, kShown = 2;

// End-of-turn markers some vocabularies have besides EOS/EOT (DeepSeek's <|EOT|>, ChatML's
// <|im_end|>, Llama 3's <|eot_id|>).
bool is_end_of_turn_marker(std::string_view t) {
  return t == "<|EOT|>" || t == "<|im_end|>" || t == "<|eot_id|>" || t == "<|end_of_text|>" || t == "<|endoftext|>";
}

double seconds_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

}  // namespace

TokenRules::TokenRules(const Tokenizer& tok) : flags_(static_cast<size_t>(tok.size()), 0) {
  for (int32_t id = 0; id < tok.size(); ++id) {
    uint8_t& f = flags_[static_cast<size_t>(id)];
    if (tok.is_eog(id)) f |= kEndsTurn;
    if (tok.vocab().type(id) != TokenType::Control) {
      f |= kShown;
      continue;
    }
    const std::string& t = tok.vocab().token(id);
    if (t == kThinkOpen || t == kThinkClose) f |= kShown;
    if (is_end_of_turn_marker(t)) f |= kEndsTurn;
  }
}

bool TokenRules::ends_turn(int32_t id) const {
  return id >= 0 && static_cast<size_t>(id) < flags_.size() && (flags_[static_cast<size_t>(id)] & kEndsTurn);
}

bool TokenRules::shown(int32_t id) const {
  return id >= 0 && static_cast<size_t>(id) < flags_.size() && (flags_[static_cast<size_t>(id)] & kShown);
}

TokenLogprob logprobs_of(const float* row, int n_vocab, int32_t chosen, int k) {
  TokenLogprob lp;
  lp.id = chosen;
  float mx = row[0];
  for (int i = 1; i < n_vocab; ++i) mx = std::max(mx, row[i]);
  double sum = 0;
  for (int i = 0; i < n_vocab; ++i) sum += std::exp(static_cast<double>(row[i]) - mx);
  const double lse = mx + std::log(sum);
  lp.logprob = static_cast<float>(row[chosen] - lse);
  if (k > 0) {
    k = std::min(k, n_vocab);
    // A min-heap of the k best (value, id).
    std::vector<std::pair<float, int32_t>> heap;
    heap.reserve(static_cast<size_t>(k) + 1);
    auto cmp = [](const std::pair<float, int32_t>& a, const std::pair<float, int32_t>& b) { return a.first > b.first; };
    for (int i = 0; i < n_vocab; ++i) {
      if (static_cast<int>(heap.size()) < k) {
        heap.emplace_back(row[i], i);
        std::push_heap(heap.begin(), heap.end(), cmp);
      } else if (row[i] > heap.front().first) {
        std::pop_heap(heap.begin(), heap.end(), cmp);
        heap.back() = {row[i], i};
        std::push_heap(heap.begin(), heap.end(), cmp);
      }
    }
    std::sort(heap.begin(), heap.end(), [](auto& a, auto& b) { return a.first > b.first || (a.first == b.first && a.second < b.second); });
    for (const auto& [v, id] : heap) lp.top.emplace_back(id, static_cast<float>(v - lse));
  }
  return lp;
}

Generator::Generator(const Tokenizer* tok, const TokenRules* rules, const GenerationParams& p, std::vector<int32_t> history)
    : rules_(rules), p_(p), sampler_(p.sampling), history_(std::move(history)) {
  if (tok && !rules) throw std::invalid_argument("Generator: a tokenizer needs its token rules");
  if (tok) decoder_.emplace(*tok, p.stop, /*skip_special=*/false);
}

Generator::Step Generator::next(float* logits, int n_vocab) {
  for (const auto& [id, b] : p_.logit_bias)
    if (id >= 0 && id < n_vocab) logits[id] += b;
  std::vector<float> orig;
  if (p_.logprobs) orig.assign(logits, logits + n_vocab);
  Step st;
  st.token = sampler_.sample(logits, n_vocab, history_);
  if (!p_.ignore_eos && rules_ && rules_->ends_turn(st.token)) {
    st.end_of_turn = true;
    return st;
  }
  ++generated_;
  history_.push_back(st.token);
  answer_.push_back(st.token);
  if (p_.logprobs) st.logprob = logprobs_of(orig.data(), n_vocab, st.token, p_.top_logprobs);
  if (decoder_ && rules_->shown(st.token)) {
    IncrementalDecoder::Step d = decoder_->push(st.token);
    st.text = std::move(d.text);
    st.stop_string = d.stopped;
  }
  return st;
}

std::string Generator::finish() {
  if (!decoder_ || decoder_->stopped()) return {};
  return decoder_->finish().text;
}

SequenceRun run_sequence(const Model& model, Sequence& seq, const std::vector<int32_t>& prompt, int prompt_chunk,
                         Generator& gen, int max_tokens, const std::function<void(const Generator::Step&)>& on_step,
                         const volatile std::sig_atomic_t* stop) {
  SequenceRun run;
  if (static_cast<size_t>(seq.n_past) >= prompt.size()) throw std::invalid_argument("run_sequence: no prompt token left to evaluate");
  const int n_vocab = model.n_vocab();
  std::vector<float> logits(static_cast<size_t>(n_vocab));
  const auto t0 = std::chrono::steady_clock::now();
  const size_t chunk = static_cast<size_t>(std::max(prompt_chunk, 1));
  for (size_t i = static_cast<size_t>(seq.n_past); i < prompt.size(); i += chunk) {
    if (stop && *stop) {
      run.reason = FinishReason::Interrupted;
      run.prompt_seconds = seconds_since(t0);
      return run;
    }
    const int n = static_cast<int>(std::min(chunk, prompt.size() - i));
    model.forward(seq, prompt.data() + i, n, logits.data(), false);
  }
  run.prompt_seconds = seconds_since(t0);

  const auto t1 = std::chrono::steady_clock::now();
  for (;;) {
    if (gen.generated() >= max_tokens) {
      run.reason = FinishReason::Length;
      break;
    }
    const Generator::Step st = gen.next(logits.data(), n_vocab);
    on_step(st);
    if (st.end_of_turn || st.stop_string) {
      run.reason = FinishReason::Stop;
      break;
    }
    if (stop && *stop) {
      run.reason = FinishReason::Interrupted;
      break;
    }
    if (gen.generated() >= max_tokens) {  // its logits are never needed
      run.reason = FinishReason::Length;
      break;
    }
    if (seq.n_past + 1 > seq.cache.capacity()) {
      run.reason = FinishReason::ContextFull;
      break;
    }
    model.forward(seq, &st.token, 1, logits.data(), false);
  }
  run.generate_seconds = seconds_since(t1);
  return run;
}

}  // namespace qs
