// Fuzzes the GGUF reader and, when the bytes parse, the model loader (config + weight binding), the
// tokenizer and chat template the file carries, and a three-token forward step for small models. Expected failures are GgufError (and the std::exception
// subclasses the loader documents); anything else escaping, a crash or a sanitizer report is a finding.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <new>
#include <stdexcept>
#include <vector>

#include "chat/chat_template.h"
#include "chat/jinja_error.h"
#include "gguf/gguf_file.h"
#include "model/model.h"
#include "tokenizer/tokenizer.h"

static bool g_verbose = false;  // QIUSUO_FUZZ_VERBOSE=1: say how far each input got (seed checks)

static int rejected(const char* stage, const std::exception& e) {
  if (g_verbose) std::fprintf(stderr, "rejected at %s: %s\n", stage, e.what());
  return 0;
}

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  setenv("QIUSUO_THREADS", "1", 1);  // deterministic, and no idle workers between runs
  g_verbose = std::getenv("QIUSUO_FUZZ_VERBOSE") != nullptr;
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::unique_ptr<qs::GgufFile> f;
  try {
    f = qs::GgufFile::from_memory(data, size, "fuzz.gguf");
  } catch (const qs::GgufError& e) {
    return rejected("parse", e);
  }
  // Walk what was parsed the way `qiusuo info` does.
  for (const auto& t : f->tensors()) (void)t.n_elements();
  for (const auto& [k, v] : f->metadata()) (void)f->find(k);

  std::unique_ptr<qs::Model> m;
  try {
    qs::LoadOptions opt;
    opt.repack = qs::LoadOptions::Repack::Off;
    m = qs::Model::from_file(std::move(f), opt);
  } catch (const qs::GgufError& e) {
    return rejected("load", e);
  } catch (const std::invalid_argument& e) {
    return rejected("load", e);
  } catch (const std::out_of_range& e) {
    return rejected("load", e);
  }

  // What `qiusuo run` and `serve` build next from the file: its tokenizer and its chat template.
  try {
    if (m->file().find("tokenizer.ggml.tokens")) {
      const qs::Tokenizer tok = qs::Tokenizer::from_gguf(m->file());
      const auto ids = tok.encode("Hello 世界 <think>", tok.add_bos(), /*parse_special=*/true);
      (void)tok.decode(ids);
    }
  } catch (const qs::TokenizerError& e) {
    return rejected("tokenizer", e);
  }
  try {
    if (auto t = m->file().get_string("tokenizer.chat_template"); t && t->size() < 65536) qs::ChatTemplate tmpl(*t);
  } catch (const qs::jinja::Error& e) {
    return rejected("chat template", e);
  }

  // Bound the work: only tiny models get a forward step.
  const auto& c = m->config();
  const int64_t width = std::max({c.n_embd, c.n_ff, c.n_ff_exp * std::max(c.n_expert_used + c.n_expert_shared, 1),
                                  c.n_head * std::max(c.head_dim_k, c.head_dim_v), c.kv_lora_rank,
                                  c.idx_n_head * c.idx_head_dim});
  if (int64_t{c.n_layer} * width > 4096 || int64_t{m->n_vocab()} * c.n_embd > (1 << 16) || c.n_layer > 8 ||
      c.n_expert > 64)
  {
    if (g_verbose) std::fprintf(stderr, "loaded; too large for a forward step\n");
    return 0;
  }
  auto seq = m->new_sequence(16);
  std::vector<float> logits(static_cast<size_t>(m->n_vocab()));
  // Three tokens: enough for a sparse-attention model with a small top_k to select keys.
  const int32_t toks[3] = {0, m->n_vocab() > 1 ? 1 : 0, 0};
  m->forward(*seq, toks, 3, logits.data(), false);
  if (g_verbose) std::fprintf(stderr, "loaded (%s, %d layers); forward ok, logit[0] = %g\n", c.name.c_str(), c.n_layer, logits[0]);
  return 0;
}
