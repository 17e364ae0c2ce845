// Writes the tiny GGUF seeds in fuzz/corpus/gguf/ with the repo's own GgufWriter: a 1-layer llama
// (F32, GQA, untied output), a 1-layer qwen2 with attention biases and a tied output, and a 2-layer
// deepseek2 (MLA + one dense and one MoE layer with a shared expert), and a 1-layer deepseek32 (MLA with
// q-LoRA and the DSA indexer, top_k 1 so the fuzzer's three-token step attends sparsely). All dimensions are a few
// elements, so each file is a few KB and the fuzzer can afford a forward step on every mutation.
// Usage: gen_gguf_seeds OUTDIR   (file names have no .gguf suffix: the repo's .gitignore drops *.gguf)
#include <cstdio>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "gguf/gguf_writer.h"

using namespace qs;

namespace {

struct T {
  std::string name;
  std::vector<int64_t> ne;
};

void write(const std::string& path, const std::vector<std::pair<std::string, GgufValue>>& kv, const std::vector<T>& ts) {
  std::vector<uint8_t> buf;
  {
    GgufWriter w(&buf, 32);
    for (const auto& [k, v] : kv) w.set(k, v);
    for (const auto& t : ts) w.add_tensor(t.name, t.ne, GgmlType::F32);
    w.write_header();
    std::mt19937 rng(1);
    std::uniform_real_distribution<float> u(-0.5f, 0.5f);
    for (const auto& t : ts) {
      int64_t n = 1;
      for (auto e : t.ne) n *= e;
      std::vector<float> data(static_cast<size_t>(n));
      for (auto& x : data) x = t.name.find("norm") != std::string::npos ? 1.f : u(rng);
      w.write_tensor_data(t.name, data.data(), data.size() * sizeof(float));
    }
    w.finish();
  }
  std::ofstream(path, std::ios::binary).write(reinterpret_cast<const char*>(buf.data()), static_cast<std::streamsize>(buf.size()));
  std::printf("%s: %zu bytes\n", path.c_str(), buf.size());
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s OUTDIR\n", argv[0]);
    return 2;
  }
  const std::string out = argv[1];
  const int64_t d = 8, V = 16, ff = 16;

  // llama: 2 heads of 4, 1 kv head.
  write(out + "/llama-tiny",
        {{"general.architecture", GgufValue::make_str("llama")},
         {"llama.block_count", GgufValue::make_u32(1)},
         {"llama.embedding_length", GgufValue::make_u32(d)},
         {"llama.attention.head_count", GgufValue::make_u32(2)},
         {"llama.attention.head_count_kv", GgufValue::make_u32(1)},
         {"llama.context_length", GgufValue::make_u32(64)},
         {"llama.feed_forward_length", GgufValue::make_u32(ff)},
         {"llama.attention.layer_norm_rms_epsilon", GgufValue::make_f32(1e-5f)}},
        {{"token_embd.weight", {d, V}}, {"output_norm.weight", {d}}, {"output.weight", {d, V}},
         {"blk.0.attn_norm.weight", {d}}, {"blk.0.ffn_norm.weight", {d}},
         {"blk.0.attn_q.weight", {d, 8}}, {"blk.0.attn_k.weight", {d, 4}}, {"blk.0.attn_v.weight", {d, 4}},
         {"blk.0.attn_output.weight", {8, d}},
         {"blk.0.ffn_gate.weight", {d, ff}}, {"blk.0.ffn_up.weight", {d, ff}}, {"blk.0.ffn_down.weight", {ff, d}}});

  // qwen2: q/k/v biases, tied output (no output.weight), yarn scaling keys.
  write(out + "/qwen2-tiny",
        {{"general.architecture", GgufValue::make_str("qwen2")},
         {"qwen2.block_count", GgufValue::make_u32(1)},
         {"qwen2.embedding_length", GgufValue::make_u32(d)},
         {"qwen2.attention.head_count", GgufValue::make_u32(2)},
         {"qwen2.attention.head_count_kv", GgufValue::make_u32(2)},
         {"qwen2.context_length", GgufValue::make_u32(64)},
         {"qwen2.feed_forward_length", GgufValue::make_u32(ff)},
         {"qwen2.rope.freq_base", GgufValue::make_f32(1e6f)},
         {"qwen2.rope.scaling.type", GgufValue::make_str("yarn")},
         {"qwen2.rope.scaling.factor", GgufValue::make_f32(4.f)},
         {"qwen2.rope.scaling.original_context_length", GgufValue::make_u32(16)}},
        {{"token_embd.weight", {d, V}}, {"output_norm.weight", {d}},
         {"blk.0.attn_norm.weight", {d}}, {"blk.0.ffn_norm.weight", {d}},
         {"blk.0.attn_q.weight", {d, 8}}, {"blk.0.attn_k.weight", {d, 8}}, {"blk.0.attn_v.weight", {d, 8}},
         {"blk.0.attn_q.bias", {8}}, {"blk.0.attn_k.bias", {8}}, {"blk.0.attn_v.bias", {8}},
         {"blk.0.attn_output.weight", {8, d}},
         {"blk.0.ffn_gate.weight", {d, ff}}, {"blk.0.ffn_up.weight", {d, ff}}, {"blk.0.ffn_down.weight", {ff, d}}});

  // deepseek2: 2 heads, qk_nope 2 + qk_rope 2, v 2, kv_lora 4; layer 0 dense, layer 1 MoE
  // (4 experts in 2 groups, 2 used, sigmoid gating with exp_probs_b, 1 shared expert of 4).
  const int64_t H = 2, dn = 2, dr = 2, dv = 2, dc = 4, E = 4, fe = 4;
  write(out + "/deepseek2-tiny",
        {{"general.architecture", GgufValue::make_str("deepseek2")},
         {"deepseek2.block_count", GgufValue::make_u32(2)},
         {"deepseek2.embedding_length", GgufValue::make_u32(d)},
         {"deepseek2.attention.head_count", GgufValue::make_u32(H)},
         {"deepseek2.attention.head_count_kv", GgufValue::make_u32(H)},
         {"deepseek2.context_length", GgufValue::make_u32(64)},
         {"deepseek2.feed_forward_length", GgufValue::make_u32(ff)},
         {"deepseek2.attention.kv_lora_rank", GgufValue::make_u32(dc)},
         {"deepseek2.rope.dimension_count", GgufValue::make_u32(dr)},
         {"deepseek2.attention.key_length", GgufValue::make_u32(dn + dr)},
         {"deepseek2.attention.value_length", GgufValue::make_u32(dv)},
         {"deepseek2.leading_dense_block_count", GgufValue::make_u32(1)},
         {"deepseek2.expert_count", GgufValue::make_u32(E)},
         {"deepseek2.expert_used_count", GgufValue::make_u32(2)},
         {"deepseek2.expert_shared_count", GgufValue::make_u32(1)},
         {"deepseek2.expert_feed_forward_length", GgufValue::make_u32(fe)},
         {"deepseek2.expert_gating_func", GgufValue::make_u32(2)},
         {"deepseek2.expert_weights_norm", GgufValue::make_bool(true)},
         {"deepseek2.expert_weights_scale", GgufValue::make_f32(2.5f)},
         {"deepseek2.expert_group_count", GgufValue::make_u32(2)},
         {"deepseek2.expert_group_used_count", GgufValue::make_u32(1)}},
        {{"token_embd.weight", {d, V}}, {"output_norm.weight", {d}}, {"output.weight", {d, V}},
         {"blk.0.attn_norm.weight", {d}}, {"blk.0.ffn_norm.weight", {d}},
         {"blk.0.attn_q.weight", {d, H * (dn + dr)}}, {"blk.0.attn_kv_a_mqa.weight", {d, dc + dr}},
         {"blk.0.attn_kv_a_norm.weight", {dc}}, {"blk.0.attn_kv_b.weight", {dc, H * (dn + dv)}},
         {"blk.0.attn_output.weight", {H * dv, d}},
         {"blk.0.ffn_gate.weight", {d, ff}}, {"blk.0.ffn_up.weight", {d, ff}}, {"blk.0.ffn_down.weight", {ff, d}},
         {"blk.1.attn_norm.weight", {d}}, {"blk.1.ffn_norm.weight", {d}},
         {"blk.1.attn_q.weight", {d, H * (dn + dr)}}, {"blk.1.attn_kv_a_mqa.weight", {d, dc + dr}},
         {"blk.1.attn_kv_a_norm.weight", {dc}}, {"blk.1.attn_kv_b.weight", {dc, H * (dn + dv)}},
         {"blk.1.attn_output.weight", {H * dv, d}},
         {"blk.1.ffn_gate_inp.weight", {d, E}}, {"blk.1.exp_probs_b.bias", {E}},
         {"blk.1.ffn_gate_exps.weight", {d, fe, E}}, {"blk.1.ffn_up_exps.weight", {d, fe, E}},
         {"blk.1.ffn_down_exps.weight", {fe, d, E}},
         {"blk.1.ffn_gate_shexp.weight", {d, fe}}, {"blk.1.ffn_up_shexp.weight", {d, fe}},
         {"blk.1.ffn_down_shexp.weight", {fe, d}}});

  // deepseek32: deepseek2's attention with q-LoRA (rank 4) and a 2-head × 4 indexer keeping 1 key.
  const int64_t qr = 4, ih = 2, id = 4;
  write(out + "/deepseek32-tiny",
        {{"general.architecture", GgufValue::make_str("deepseek32")},
         {"deepseek32.block_count", GgufValue::make_u32(1)},
         {"deepseek32.embedding_length", GgufValue::make_u32(d)},
         {"deepseek32.attention.head_count", GgufValue::make_u32(H)},
         {"deepseek32.context_length", GgufValue::make_u32(64)},
         {"deepseek32.feed_forward_length", GgufValue::make_u32(ff)},
         {"deepseek32.attention.q_lora_rank", GgufValue::make_u32(qr)},
         {"deepseek32.attention.kv_lora_rank", GgufValue::make_u32(dc)},
         {"deepseek32.rope.dimension_count", GgufValue::make_u32(dr)},
         {"deepseek32.attention.key_length", GgufValue::make_u32(dn + dr)},
         {"deepseek32.attention.value_length", GgufValue::make_u32(dv)},
         {"deepseek32.attention.indexer.head_count", GgufValue::make_u32(ih)},
         {"deepseek32.attention.indexer.key_length", GgufValue::make_u32(id)},
         {"deepseek32.attention.indexer.top_k", GgufValue::make_u32(1)},
         {"deepseek32.attention.layer_norm_epsilon", GgufValue::make_f32(1e-6f)}},
        {{"token_embd.weight", {d, V}}, {"output_norm.weight", {d}}, {"output.weight", {d, V}},
         {"blk.0.attn_norm.weight", {d}}, {"blk.0.ffn_norm.weight", {d}},
         {"blk.0.attn_q_a.weight", {d, qr}}, {"blk.0.attn_q_a_norm.weight", {qr}},
         {"blk.0.attn_q_b.weight", {qr, H * (dn + dr)}}, {"blk.0.attn_kv_a_mqa.weight", {d, dc + dr}},
         {"blk.0.attn_kv_a_norm.weight", {dc}}, {"blk.0.attn_kv_b.weight", {dc, H * (dn + dv)}},
         {"blk.0.attn_output.weight", {H * dv, d}},
         {"blk.0.indexer.attn_q_b.weight", {qr, ih * id}}, {"blk.0.indexer.attn_k.weight", {d, id}},
         {"blk.0.indexer.k_norm.weight", {id}}, {"blk.0.indexer.k_norm.bias", {id}},
         {"blk.0.indexer.proj.weight", {d, ih}},
         {"blk.0.ffn_gate.weight", {d, ff}}, {"blk.0.ffn_up.weight", {d, ff}}, {"blk.0.ffn_down.weight", {ff, d}}});
  return 0;
}
