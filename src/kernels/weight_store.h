// The weights' own memory when they are not read from the mapped file: one anonymous mapping on huge
// pages holding every matrix plan_storage repacks, copies or widens, filled at load. The file's pages
// of what was copied are dropped from the resident set.
#pragma once
#include <cstddef>
#include <cstdint>
#include <functional>
#include <vector>

#include "kernels/plan.h"

namespace qs {

class WeightStore {
 public:
  WeightStore() = default;
  ~WeightStore();
  WeightStore(const WeightStore&) = delete;
  WeightStore& operator=(const WeightStore&) = delete;

  // Registers a view to be stored as plan_storage(*m, use) says; commit() rewrites it. Views sharing
  // a tensor (a fused gate+up tensor backs two) are stored once.
  void add(MatView* m, WeightUse use);
  // Sizes, maps and fills the store. Returns false and leaves every view as it was when the store
  // would exceed max_bytes or the mapping fails (the file layout still works, only slower).
  bool commit(size_t max_bytes, const std::function<void(size_t done, size_t total)>& on_progress = {});
  size_t bytes() const { return bytes_; }

 private:
  struct Entry {
    MatView* view;
    Storage storage;
  };
  std::vector<Entry> entries_;
  uint8_t* base_ = nullptr;
  size_t bytes_ = 0;
};

}  // namespace qs
