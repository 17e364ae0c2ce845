// Fuzzes what `convert` reads from a checkpoint: arbitrary bytes as a safetensors file (header length,
// JSON header, dtypes, shapes, offsets), then every float tensor's rows through RowReader, FP8 ones with
// the scale tensor named beside them. CheckpointError is the expected failure; a crash, a sanitizer
// report or any other exception is a finding.
#include <cstdint>
#include <map>
#include <vector>

#include "convert/row_reader.h"
#include "convert/safetensors.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > (1u << 20)) return 0;
  try {
    qs::SafetensorsFile f(data, size, "fuzz.safetensors");
    std::map<std::string, const qs::StTensor*> by_name;
    for (const auto& t : f.tensors()) by_name[t.name] = &t;
    for (const auto& t : f.tensors()) {
      if (t.numel() > (1 << 16) || t.shape.empty()) continue;
      const auto scale = by_name.find(t.name + "_scale_inv");
      try {
        const qs::RowReader r(t, scale == by_name.end() ? nullptr : scale->second, 4, 8);
        std::vector<float> out(static_cast<size_t>(r.rows() * r.cols()));
        r.read(0, r.rows(), out.data());
      } catch (const qs::CheckpointError&) {
      }
    }
  } catch (const qs::CheckpointError&) {
  }
  return 0;
}
