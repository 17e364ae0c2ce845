#include "convert/convert.h"

#include <algorithm>
#include <filesystem>
#include <stdexcept>
#include <vector>

#include "convert/hf_config.h"
#include "convert/row_reader.h"
#include "convert/safetensors.h"
#include "convert/tensor_plan.h"
#include "gguf/gguf_writer.h"
#include "tensor/quants.h"
#include "tokenizer/hf_vocab_to_gguf.h"
#include "util/progress.h"

namespace qs {

namespace fs = std::filesystem;

namespace {

constexpr GgmlType kTypes[] = {GgmlType::F32, GgmlType::F16, GgmlType::BF16, GgmlType::Q8_0, GgmlType::Q6_K,
                               GgmlType::Q5_K, GgmlType::Q4_K, GgmlType::Q5_0, GgmlType::Q4_0};

// Streams one output tensor: float rows from the checkpoint, quantized a chunk at a time.
class TensorWriter {
 public:
  TensorWriter(const Checkpoint& ck, const HfConfig& c, GgufWriter& w, Progress& p) : ck_(ck), c_(c), w_(w), progress_(p) {}

  void write(const OutTensor& t) {
    switch (t.kind) {
      case OutKind::Copy:
        copy_rows(t, reader(t.src[0]), nullptr);
        return;
      case OutKind::RopeRows:
        copy_rows(t, reader(t.src[0]), &t);
        return;
      case OutKind::Experts:
        for (const auto& s : t.src) copy_rows(t, reader(s), nullptr);
        return;
      case OutKind::Computed:
        emit(t, t.values.data(), 1);
        return;
      case OutKind::KFromKvb:
      case OutKind::VFromKvb:
        kv_b(t);
        return;
    }
  }

 private:
  RowReader reader(const std::string& name) const {
    const StTensor& s = ck_.at(name);
    return RowReader(s, ck_.find(name + "_scale_inv"), c_.block_rows, c_.block_cols);
  }

  // Quantizes n rows of t.ne[0] floats and appends them.
  void emit(const OutTensor& t, const float* rows, int64_t n) {
    const size_t rb = row_bytes(t.type, t.ne[0]);
    buf_.resize(rb * static_cast<size_t>(n));
    for (int64_t r = 0; r < n; ++r) quantize_row(t.type, rows + r * t.ne[0], buf_.data() + rb * static_cast<size_t>(r), t.ne[0]);
    w_.write_tensor_data(t.name, buf_.data(), buf_.size());
    progress_.add(buf_.size());
  }

  void copy_rows(const OutTensor& t, const RowReader& r, const OutTensor* rope) {
    // Chunks of ~16M floats, whole FP8 blocks (and, for RoPE rows, whole heads).
    int64_t chunk = std::max<int64_t>(1, (int64_t{16} << 20) / std::max<int64_t>(1, r.cols()));
    const int64_t align = rope ? rope->head_rows : std::max<int64_t>(1, c_.block_rows);
    chunk = std::max(align, chunk / align * align);
    std::vector<float> in(static_cast<size_t>(std::min(chunk, r.rows()) * r.cols())), perm;
    for (int64_t r0 = 0; r0 < r.rows(); r0 += chunk) {
      const int64_t n = std::min(chunk, r.rows() - r0);
      r.read(r0, n, in.data());
      if (!rope) {
        emit(t, in.data(), n);
        continue;
      }
      // Within a head, GGUF row 2j+k is HF row k*(hd/2)+j.
      const int64_t hd = rope->head_rows, cols = r.cols();
      perm.resize(in.size());
      for (int64_t row = 0; row < n; ++row) {
        const int64_t head = row / hd, i = row % hd, from = head * hd + (i % 2) * (hd / 2) + i / 2;
        std::copy_n(in.data() + from * cols, cols, perm.data() + row * cols);
      }
      emit(t, perm.data(), n);
    }
  }

  void kv_b(const OutTensor& t) {
    const RowReader r = reader(t.src[0]);
    std::vector<float> kvb(static_cast<size_t>(r.rows() * r.cols()));
    r.read(0, r.rows(), kvb.data());
    const int64_t dn = c_.qk_nope, dv = c_.v_head, dc = c_.kv_lora;
    std::vector<float> head;
    for (int64_t h = 0; h < c_.n_head; ++h) {
      const float* base = kvb.data() + h * (dn + dv) * dc;
      if (t.kind == OutKind::VFromKvb) {
        emit(t, base + dn * dc, dv);  // rows (h, v): the kv_b rows after the head's nope rows
        continue;
      }
      head.resize(static_cast<size_t>(dc * dn));  // rows (h, c): W_UK[h]^T
      for (int64_t k = 0; k < dn; ++k)
        for (int64_t c = 0; c < dc; ++c) head[c * dn + k] = base[k * dc + c];
      emit(t, head.data(), dc);
    }
  }

  const Checkpoint& ck_;
  const HfConfig& c_;
  GgufWriter& w_;
  Progress& progress_;
  std::vector<uint8_t> buf_;
};

}  // namespace

const char* convert_type_names() { return "f32, f16, bf16, q8_0, q6_k, q5_k, q4_k, q5_0, q4_0"; }

GgmlType convert_type_from_name(const std::string& name) {
  const auto t = type_from_name(name);
  if (t && std::find(std::begin(kTypes), std::end(kTypes), *t) != std::end(kTypes)) return *t;
  throw std::invalid_argument("unknown --type '" + name + "' (valid: " + convert_type_names() + ")");
}

ConvertResult convert_checkpoint(const ConvertOptions& o) {
  const HfConfig c = read_hf_config(o.dir);
  const Checkpoint ck(o.dir);
  const std::vector<OutTensor> plan = plan_tensors(c, ck, o.type);
  const fs::path tok = fs::path(o.dir) / "tokenizer.json";
  if (!fs::exists(tok)) throw CheckpointError(o.dir + ": no tokenizer.json");
  GgufVocab vocab = vocab_from_hf(tok.string(), c.vocab, "");
  if (vocab.n_vocab != c.vocab)
    throw CheckpointError("tokenizer.json holds " + std::to_string(vocab.n_vocab) + " tokens but config.json says vocab_size " +
                          std::to_string(c.vocab));

  GgufWriter w(o.output);
  w.set("general.architecture", GgufValue::make_str(c.gguf_arch));
  std::string name = o.name;
  if (name.empty()) name = fs::path(o.dir).lexically_normal().filename().string();
  if (name.empty()) name = fs::path(o.dir).lexically_normal().parent_path().filename().string();
  w.set("general.name", GgufValue::make_str(name));
  write_arch_metadata(c, w);
  w.set("general.file_type", GgufValue::make_u32(llama_file_type(o.type)));
  if (o.type != GgmlType::F32 && o.type != GgmlType::F16 && o.type != GgmlType::BF16)
    w.set("general.quantization_version", GgufValue::make_u32(2));
  for (auto& [k, v] : vocab.kv) w.set(k, std::move(v));
  uint64_t total = 0;
  for (const auto& t : plan) {
    w.add_tensor(t.name, t.ne, t.type);
    total += w.tensor_nbytes(w.n_tensors() - 1);
  }
  w.write_header();
  Progress progress("convert", total, 0, o.progress_tty);
  TensorWriter tw(ck, c, w, progress);
  for (const auto& t : plan) tw.write(t);
  w.finish();
  progress.finish();
  return {plan.size(), w.bytes_written(), vocab.n_vocab};
}

}  // namespace qs
