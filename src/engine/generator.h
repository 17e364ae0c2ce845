// The generation step every front end shares — the server's scheduler, `run` and `generate`: given a
// position's logits it applies the logit bias, samples, recognises the end of the turn, hides control
// tokens (the think tags excepted), detokenizes incrementally against stop strings and reports
// logprobs. run_sequence is the one loop that drives it over a single sequence.
#pragma once
#include <csignal>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "engine/sampler.h"
#include "tokenizer/incremental_decoder.h"

namespace qs {

class Model;
class Tokenizer;
struct Sequence;

// What a vocabulary's ids mean to generation: which end a turn (EOS/EOT and the chat formats'
// end-of-turn markers) and which are shown as text. Decided once per vocabulary.
class TokenRules {
 public:
  explicit TokenRules(const Tokenizer& tok);
  bool ends_turn(int32_t id) const;
  // Control tokens are not shown, except the think tags a reasoning model may have as control tokens.
  bool shown(int32_t id) const;

 private:
  std::vector<uint8_t> flags_;  // per id: kEndsTurn | kShown
};

struct TokenLogprob {
  int32_t id = -1;
  float logprob = 0;
  std::vector<std::pair<int32_t, float>> top;  // best first
};
// log-softmax of row at chosen, and the k best alternatives.
TokenLogprob logprobs_of(const float* row, int n_vocab, int32_t chosen, int k);

// One request's generation settings (what OpenAI-style requests and the CLI flags carry).
struct GenerationParams {
  SamplingParams sampling;
  int max_tokens = -1;  // -1: not given (up to the context)
  std::vector<std::string> stop;
  bool logprobs = false;
  int top_logprobs = 0;
  std::vector<std::pair<int32_t, float>> logit_bias;
  bool ignore_eos = false;  // generate exactly max_tokens (benchmarks)
};

class Generator {
 public:
  struct Step {
    int32_t token = -1;
    bool end_of_turn = false;  // token ends the turn: not part of the answer, nothing more to evaluate
    bool stop_string = false;  // a stop string completed: text is what precedes it
    std::string text;          // safe to show now
    std::optional<TokenLogprob> logprob;
  };

  // tok and rules may be null (a model without a vocabulary, ids only): then nothing ends the turn
  // and no text is produced. history: the tokens so far (for the penalties).
  Generator(const Tokenizer* tok, const TokenRules* rules, const GenerationParams& p, std::vector<int32_t> history);

  // Samples the next token from logits (modified in place by bias and penalties).
  Step next(float* logits, int n_vocab);
  // The text held back at the end of the stream (empty after a stop string).
  std::string finish();

  int generated() const { return generated_; }
  const std::vector<int32_t>& answer() const { return answer_; }

 private:
  const TokenRules* rules_;
  GenerationParams p_;
  Sampler sampler_;
  std::optional<IncrementalDecoder> decoder_;
  std::vector<int32_t> history_, answer_;
  int generated_ = 0;
};

enum class FinishReason { Stop, Length, ContextFull, Interrupted };

struct SequenceRun {
  FinishReason reason = FinishReason::Stop;
  double prompt_seconds = 0, generate_seconds = 0;
};

// The single-sequence generation loop (`run`, `generate`): evaluates prompt[seq.n_past..] in chunks
// of prompt_chunk tokens, then samples with gen and evaluates each answer token until the turn ends,
// max_tokens are generated, the sequence's context is full or *stop is set. on_step sees every step.
SequenceRun run_sequence(const Model& model, Sequence& seq, const std::vector<int32_t>& prompt, int prompt_chunk,
                         Generator& gen, int max_tokens, const std::function<void(const Generator::Step&)>& on_step,
                         const volatile std::sig_atomic_t* stop = nullptr);

}  // namespace qs
