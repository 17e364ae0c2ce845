// Tokenizer throughput: MB/s of encode() on Chinese prose, source code and English, single thread.
// Usage: bench_tokenizer MODEL.gguf|tokenizer.json [MiB per text kind, default 4]
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "tokenizer/tokenizer.h"

namespace {

const char* const kChinese =
    "人工智能正在深刻地改变我们的生活方式。从语音助手到自动驾驶，从医疗诊断到金融风控，"
    "深度学习模型在各个领域展现出了惊人的能力。然而，大模型的推理成本依然高昂，"
    "如何在普通硬件上高效运行它们，是工程师们持续探索的问题。混合专家架构（MoE）"
    "通过每次只激活一部分参数，在保持模型容量的同时显著降低了计算量。\n";

const char* const kCode =
    "template <typename T>\nstatic void axpy(size_t n, T a, const T* x, T* y) {\n"
    "    for (size_t i = 0; i < n; ++i) y[i] += a * x[i];  // the BLAS level-1 kernel\n}\n\n"
    "def softmax(xs):\n    m = max(xs)\n    e = [math.exp(x - m) for x in xs]\n    s = sum(e)\n"
    "    return [v / s for v in e]\n\n{\"model\": \"deepseek-v3\", \"max_tokens\": 4096, \"temperature\": 0.7}\n";

const char* const kEnglish =
    "The quick brown fox jumps over the lazy dog, and then it runs back into the forest. "
    "Mixture-of-experts models activate only a few experts per token; that's why they're cheap to run "
    "relative to their size. In 2024, models with 671B parameters were served on 8 GPUs.\n";

std::string repeat_to(const char* unit, size_t bytes) {
  std::string s;
  while (s.size() < bytes) s += unit;
  return s;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s MODEL.gguf|tokenizer.json [MiB]\n", argv[0]);
    return 2;
  }
  const size_t mib = argc > 2 ? std::strtoul(argv[2], nullptr, 10) : 4;
  const auto t0 = std::chrono::steady_clock::now();
  const qs::Tokenizer tok = qs::Tokenizer::load(argv[1]);
  const double load_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("loaded %d tokens in %.2f s\n", tok.size(), load_s);
  const std::pair<const char*, const char*> kinds[] = {{"chinese", kChinese}, {"code", kCode}, {"english", kEnglish}};
  for (const auto& [name, unit] : kinds) {
    const std::string text = repeat_to(unit, mib << 20);
    const auto a = std::chrono::steady_clock::now();
    const std::vector<int32_t> ids = tok.encode(text, false, true);
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - a).count();
    std::printf("%-8s %7.2f MB/s  %8.0f tokens/s  (%.2f bytes/token)\n", name, text.size() / s / 1e6,
                ids.size() / s, static_cast<double>(text.size()) / ids.size());
  }
  return 0;
}
