#include "synth/synth.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <stdexcept>
#include <vector>

#include "gguf/gguf_writer.h"
#include "kernels/thread_pool.h"
#include "synth/synth_plan.h"
#include "tensor/quants.h"

namespace qs {

namespace {

constexpr GgmlType kSynthTypes[] = {GgmlType::F32,  GgmlType::F16,  GgmlType::BF16, GgmlType::Q8_0, GgmlType::Q4_0,
                                    GgmlType::Q4_1, GgmlType::Q5_0, GgmlType::Q5_1, GgmlType::Q2_K, GgmlType::Q3_K,
                                    GgmlType::Q4_K, GgmlType::Q5_K, GgmlType::Q6_K};

// Floats generated per chunk (16 MiB): big enough for few, large writes, small enough to bound memory.
constexpr int64_t kChunkFloats = int64_t{1} << 22;

}  // namespace

const char* synth_type_names() { return "F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K"; }

GgmlType synth_type_from_name(const std::string& name) {
  const auto t = type_from_name(name);
  if (t && std::find(std::begin(kSynthTypes), std::end(kSynthTypes), *t) != std::end(kSynthTypes)) return *t;
  throw std::runtime_error("unknown weight type '" + name + "' (valid: " + synth_type_names() + ")");
}

MlaFileLayout mla_layout_from_name(const std::string& name) {
  if (name == "legacy") return MlaFileLayout::Legacy;
  if (name == "ik") return MlaFileLayout::Ik;
  if (name == "mainline") return MlaFileLayout::Mainline;
  throw std::runtime_error("unknown MLA layout '" + name + "' (valid: legacy, ik, mainline)");
}

SynthResult write_synthetic_model(const SynthOptions& opt) {
  const auto t0 = std::chrono::steady_clock::now();
  if (opt.output.empty()) throw std::runtime_error("synth: no output path");
  const ModelPlan plan = plan_model(opt);

  GgufWriter w(opt.output);
  for (const auto& [k, v] : plan.kv) w.set(k, v);
  for (const TensorPlan& t : plan.tensors) w.add_tensor(t.name, t.ne, t.type);
  w.write_header();

  SynthResult res;
  ThreadPool pool(opt.threads > 0 ? opt.threads : ThreadPool::default_threads());
  std::vector<std::vector<float>> scratch(static_cast<size_t>(pool.size()));
  std::vector<uint8_t> out;
  for (const TensorPlan& t : plan.tensors) {
    const int64_t n = t.ne[0], rows = t.rows(), g = t.group_rows();
    const size_t rb = row_bytes(t.type, n);
    const int64_t chunk = std::max(g, kChunkFloats / n / g * g);
    res.n_params += static_cast<uint64_t>(rows * n);
    out.resize(static_cast<size_t>(std::min(chunk, rows)) * rb);
    for (int64_t r0 = 0; r0 < rows; r0 += chunk) {
      const int64_t r1 = std::min(rows, r0 + chunk);
      // Each row's values depend only on (seed, tensor, row), so the split across threads is free.
      pool.parallel_for((r1 - r0) / g, [&](int64_t gb, int64_t ge, int ti) {
        std::vector<float>& s = scratch[static_cast<size_t>(ti)];
        s.resize(static_cast<size_t>(g * n));
        for (int64_t gi = gb; gi < ge; ++gi) {
          const int64_t rr = r0 + gi * g;
          generate_rows(t, opt.seed, plan.hp, rr, rr + g, s.data());
          for (int64_t k = 0; k < g; ++k)
            quantize_row(t.type, s.data() + k * n, out.data() + static_cast<size_t>(rr - r0 + k) * rb, n);
        }
      });
      w.write_tensor_data(t.name, out.data(), static_cast<size_t>(r1 - r0) * rb);
    }
  }
  w.finish();

  res.n_bytes = w.bytes_written();
  res.n_tensors = plan.tensors.size();
  res.n_vocab = plan.hp.n_vocab;
  res.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return res;
}

}  // namespace qs
