#include "tensor/ggml_type.h"

#include <array>
#include <stdexcept>
#include <string>

namespace qs {
namespace {

struct Entry {
  GgmlType type;
  TypeTraits traits;
};

// Block sizes and byte sizes as ggml defines them; Q8_1 and Q8_K are activation-only formats.
constexpr std::array<Entry, 27> kTable{{
    {GgmlType::F32, {"F32", 1, 4, true}},
    {GgmlType::F16, {"F16", 1, 2, true}},
    {GgmlType::Q4_0, {"Q4_0", 32, 18, true}},
    {GgmlType::Q4_1, {"Q4_1", 32, 20, true}},
    {GgmlType::Q5_0, {"Q5_0", 32, 22, true}},
    {GgmlType::Q5_1, {"Q5_1", 32, 24, true}},
    {GgmlType::Q8_0, {"Q8_0", 32, 34, true}},
    {GgmlType::Q8_1, {"Q8_1", 32, 36, false}},
    {GgmlType::Q2_K, {"Q2_K", 256, 84, true}},
    {GgmlType::Q3_K, {"Q3_K", 256, 110, true}},
    {GgmlType::Q4_K, {"Q4_K", 256, 144, true}},
    {GgmlType::Q5_K, {"Q5_K", 256, 176, true}},
    {GgmlType::Q6_K, {"Q6_K", 256, 210, true}},
    {GgmlType::Q8_K, {"Q8_K", 256, 292, false}},
    {GgmlType::BF16, {"BF16", 1, 2, true}},
    // i-quants, ternary and MXFP4 (iquant_blocks.h)
    {GgmlType::IQ2_XXS, {"IQ2_XXS", 256, 66, true}},
    {GgmlType::IQ2_XS, {"IQ2_XS", 256, 74, true}},
    {GgmlType::IQ3_XXS, {"IQ3_XXS", 256, 98, true}},
    {GgmlType::IQ1_S, {"IQ1_S", 256, 50, true}},
    {GgmlType::IQ4_NL, {"IQ4_NL", 32, 18, true}},
    {GgmlType::IQ3_S, {"IQ3_S", 256, 110, true}},
    {GgmlType::IQ2_S, {"IQ2_S", 256, 82, true}},
    {GgmlType::IQ4_XS, {"IQ4_XS", 256, 136, true}},
    {GgmlType::IQ1_M, {"IQ1_M", 256, 56, true}},
    {GgmlType::TQ1_0, {"TQ1_0", 256, 54, true}},
    {GgmlType::TQ2_0, {"TQ2_0", 256, 66, true}},
    {GgmlType::MXFP4, {"MXFP4", 32, 17, true}},
}};

constexpr uint32_t kMaxId = 39;

// Direct index from id to table slot (-1: unknown), so traits() stays O(1) on hot paths like row_bytes.
constexpr std::array<int8_t, kMaxId + 1> make_index() {
  std::array<int8_t, kMaxId + 1> idx{};
  for (auto& v : idx) v = -1;
  for (size_t i = 0; i < kTable.size(); ++i) idx[static_cast<uint32_t>(kTable[i].type)] = static_cast<int8_t>(i);
  return idx;
}
constexpr auto kIndex = make_index();

const TypeTraits* find(uint32_t id) {
  if (id > kMaxId || kIndex[id] < 0) return nullptr;
  return &kTable[static_cast<size_t>(kIndex[id])].traits;
}

char upper(char c) { return (c >= 'a' && c <= 'z') ? static_cast<char>(c - 'a' + 'A') : c; }

}  // namespace

std::optional<TypeTraits> type_traits(uint32_t id) {
  const TypeTraits* t = find(id);
  if (!t) return std::nullopt;
  return *t;
}

const TypeTraits& traits(GgmlType t) {
  const TypeTraits* tt = find(static_cast<uint32_t>(t));
  if (!tt) throw std::invalid_argument("unknown ggml type id " + std::to_string(static_cast<uint32_t>(t)));
  return *tt;
}

std::optional<GgmlType> type_from_name(std::string_view name) {
  for (const Entry& e : kTable) {
    const std::string_view n = e.traits.name;
    if (n.size() != name.size()) continue;
    bool same = true;
    for (size_t i = 0; i < n.size() && same; ++i) same = upper(name[i]) == n[i];
    if (same) return e.type;
  }
  return std::nullopt;
}

uint32_t llama_file_type(GgmlType t) {
  switch (t) {
    case GgmlType::F32: return 0;
    case GgmlType::F16: return 1;
    case GgmlType::Q4_0: return 2;
    case GgmlType::Q4_1: return 3;
    case GgmlType::Q8_0: return 7;
    case GgmlType::Q5_0: return 8;
    case GgmlType::Q5_1: return 9;
    case GgmlType::Q2_K: return 10;
    case GgmlType::Q3_K: return 11;  // Q3_K_S: every tensor Q3_K
    case GgmlType::Q4_K: return 14;  // Q4_K_S
    case GgmlType::Q5_K: return 16;  // Q5_K_S
    case GgmlType::Q6_K: return 18;
    case GgmlType::IQ2_XXS: return 19;
    case GgmlType::IQ2_XS: return 20;
    case GgmlType::IQ3_XXS: return 23;
    case GgmlType::IQ1_S: return 24;
    case GgmlType::IQ4_NL: return 25;
    case GgmlType::IQ3_S: return 26;
    case GgmlType::IQ2_S: return 28;
    case GgmlType::IQ4_XS: return 30;
    case GgmlType::IQ1_M: return 31;
    case GgmlType::BF16: return 32;
    case GgmlType::TQ1_0: return 36;
    case GgmlType::TQ2_0: return 37;
    case GgmlType::MXFP4: return 38;  // MXFP4_MOE
    default: return 0;
  }
}

}  // namespace qs
