#include "convert/quantize_model.h"

#include <algorithm>
#include <cstdio>
#include <memory>
#include <stdexcept>
#include <thread>

#include "convert/quant_recipe.h"
#include "gguf/gguf_file.h"
#include "gguf/gguf_writer.h"
#include "tensor/quants.h"
#include "util/progress.h"

namespace qs {

namespace {

struct Planned {
  const GgufTensorInfo* src;
  GgmlType type;
  size_t nbytes;
};

bool is_float(GgmlType t) { return t == GgmlType::F32 || t == GgmlType::F16 || t == GgmlType::BF16; }

// NAME.gguf -> NAME-0000i-of-0000N.gguf
std::string shard_name(const std::string& out, size_t i, size_t n) {
  std::string stem = out;
  if (stem.size() > 5 && stem.compare(stem.size() - 5, 5, ".gguf") == 0) stem.resize(stem.size() - 5);
  char buf[40];
  std::snprintf(buf, sizeof buf, "-%05zu-of-%05zu.gguf", i + 1, n);
  return stem + buf;
}

// Rows of t quantized to `type`, `threads` at a time, appended to w.
void write_tensor(GgufWriter& w, const Planned& p, int threads, Progress& progress) {
  const GgufTensorInfo& t = *p.src;
  if (p.type == t.type) {  // nothing to do: the bytes as they are
    w.write_tensor_data(t.name, t.data, t.nbytes);
    progress.add(t.nbytes);
    return;
  }
  const int64_t n0 = t.ne[0], rows = t.rows();
  const size_t in_row = row_bytes(t.type, n0), out_row = row_bytes(p.type, n0);
  const int64_t chunk = std::max<int64_t>(1, (int64_t{8} << 20) / n0);  // ~32 MiB of floats per chunk
  std::vector<uint8_t> out(static_cast<size_t>(std::min(chunk, rows)) * out_row);
  std::vector<float> tmp(static_cast<size_t>(threads) * static_cast<size_t>(n0));
  for (int64_t r0 = 0; r0 < rows; r0 += chunk) {
    const int64_t n = std::min(chunk, rows - r0);
    auto work = [&](int tid) {
      float* f = tmp.data() + static_cast<size_t>(tid) * static_cast<size_t>(n0);
      for (int64_t r = tid; r < n; r += threads) {
        dequantize_row(t.type, t.data + static_cast<size_t>(r0 + r) * in_row, f, n0);
        quantize_row(p.type, f, out.data() + static_cast<size_t>(r) * out_row, n0);
      }
    };
    std::vector<std::thread> pool;
    for (int i = 1; i < threads; ++i) pool.emplace_back(work, i);
    work(0);
    for (auto& th : pool) th.join();
    w.write_tensor_data(t.name, out.data(), static_cast<size_t>(n) * out_row);
    progress.add(static_cast<size_t>(n) * out_row);
  }
}

}  // namespace

uint64_t parse_size(const std::string& s) {
  if (s.empty()) throw std::invalid_argument("empty size");
  size_t end = 0;
  double v = 0;
  try {
    v = std::stod(s, &end);
  } catch (const std::exception&) {
    throw std::invalid_argument("bad size '" + s + "' (e.g. 50G, 512M)");
  }
  const std::string unit = s.substr(end);
  double mul = 1;
  if (unit == "K" || unit == "k") mul = 1e3;
  else if (unit == "M" || unit == "m") mul = 1e6;
  else if (unit == "G" || unit == "g") mul = 1e9;
  else if (unit == "T" || unit == "t") mul = 1e12;
  else if (!unit.empty()) throw std::invalid_argument("bad size '" + s + "' (units K, M, G, T; decimal as gguf-split's)");
  if (!(v > 0) || v * mul > 1e18) throw std::invalid_argument("bad size '" + s + "'");
  return static_cast<uint64_t>(v * mul);
}

QuantizeResult quantize_model(const QuantizeOptions& o) {
  QuantRecipe recipe(o.type);
  for (const auto& spec : o.tensor_types) recipe.add_override(spec);
  auto in = GgufFile::open(o.input);
  const std::string arch = in->get_string("general.architecture").value_or("");
  const uint64_t blocks = in->get_uint(arch + ".block_count").value_or(0), nextn = in->get_uint(arch + ".nextn_predict_layers").value_or(0);
  const int n_layer = static_cast<int>(std::min<uint64_t>(blocks - std::min(blocks, nextn), 1 << 20));

  QuantizeResult res;
  std::vector<Planned> plan;
  for (const auto& t : in->tensors()) {
    GgmlType type = recipe.type_for(t.name, t.ne, t.type, n_layer);
    if (type != t.type && !is_float(t.type)) ++res.n_requantized;
    plan.push_back({&t, type, row_bytes(type, t.ne[0]) * static_cast<size_t>(t.rows())});
  }
  if (res.n_requantized > 0)
    std::fprintf(stderr, "quantize: %zu tensors are already quantized and get quantized again; quantizing from F16/BF16 keeps more quality\n",
                 res.n_requantized);

  // Tensors per output file: runs that stay under the limit (at least one tensor each).
  std::vector<std::pair<size_t, size_t>> runs;  // [begin, end)
  uint64_t run_bytes = 0;
  for (size_t i = 0; i < plan.size(); ++i) {
    if (runs.empty() || (o.split_max_bytes > 0 && run_bytes + plan[i].nbytes > o.split_max_bytes && runs.back().second > runs.back().first)) {
      runs.push_back({i, i});
      run_bytes = 0;
    }
    runs.back().second = i + 1;
    run_bytes += plan[i].nbytes;
  }
  if (runs.size() > 99999) throw std::invalid_argument("--split-max-size is too small: more than 99999 shards");

  uint64_t total = 0;
  for (const auto& p : plan) total += p.nbytes;
  const int threads = o.threads > 0 ? o.threads : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  Progress progress("quantize", total, 0, o.progress_tty);
  const bool split = o.split_max_bytes > 0;
  for (size_t s = 0; s < runs.size(); ++s) {
    const std::string path = split ? shard_name(o.output, s, runs.size()) : o.output;
    GgufWriter w(path);
    if (s == 0) {
      for (const auto& [k, v] : in->metadata())
        if (k.rfind("split.", 0) != 0) w.set(k, v);
      w.set("general.file_type", GgufValue::make_u32(recipe.file_type()));
      w.set("general.quantization_version", GgufValue::make_u32(2));
    }
    if (split) {
      w.set("split.no", GgufValue::make_u16(static_cast<uint16_t>(s)));
      w.set("split.count", GgufValue::make_u16(static_cast<uint16_t>(runs.size())));
      w.set("split.tensors.count", GgufValue::make_i32(static_cast<int32_t>(plan.size())));
    }
    for (size_t i = runs[s].first; i < runs[s].second; ++i) w.add_tensor(plan[i].src->name, plan[i].src->ne, plan[i].type);
    w.write_header();
    for (size_t i = runs[s].first; i < runs[s].second; ++i) write_tensor(w, plan[i], threads, progress);
    w.finish();
    res.files.push_back(path);
    res.bytes += w.bytes_written();
  }
  progress.finish();
  res.n_tensors = plan.size();
  return res;
}

}  // namespace qs
