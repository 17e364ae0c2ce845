#include "kernels/weight_store.h"

#include <sys/mman.h>
#include <unistd.h>

#include <map>

#include "kernels/repack.h"
#include "kernels/thread_pool.h"
#include "tensor/quants.h"

namespace qs {

namespace {

size_t stored_size(const MatView& m, Storage s) {
  switch (s) {
    case Storage::Repacked: return repacked_size(m);
    case Storage::WidenedF16: return static_cast<size_t>(m.rows) * row_bytes(GgmlType::F16, m.cols);
    default: return static_cast<size_t>(m.rows) * m.row_stride;
  }
}

MatView widen_to_f16(const MatView& src, uint8_t* dst) {
  const size_t rb = row_bytes(GgmlType::F16, src.cols);
  global_pool().parallel_for(src.rows, [&](int64_t r0, int64_t r1, int) {
    std::vector<float> row(static_cast<size_t>(src.cols));
    for (int64_t r = r0; r < r1; ++r) {
      dequantize_row(src.type, src.row(r), row.data(), src.cols);
      quantize_row(GgmlType::F16, row.data(), dst + static_cast<size_t>(r) * rb, src.cols);
    }
  });
  return MatView{dst, GgmlType::F16, src.rows, src.cols, rb};
}

// The file's copy is no longer read: drop its pages from the resident set (whole pages only).
void drop_file_pages(const MatView& m) {
  const uintptr_t page = static_cast<uintptr_t>(sysconf(_SC_PAGESIZE));
  const auto lo = (reinterpret_cast<uintptr_t>(m.data) + page - 1) / page * page;
  const auto hi = (reinterpret_cast<uintptr_t>(m.data) + static_cast<size_t>(m.rows) * m.row_stride) / page * page;
  if (hi > lo) madvise(reinterpret_cast<void*>(lo), hi - lo, MADV_DONTNEED);
}

}  // namespace

WeightStore::~WeightStore() {
  if (base_) munmap(base_, bytes_);
}

void WeightStore::add(MatView* m, WeightUse use) {
  const Storage s = plan_storage(*m, use);
  if (s != Storage::File) entries_.push_back({m, s});
}

bool WeightStore::commit(size_t max_bytes, const std::function<void(size_t done, size_t total)>& on_progress) {
  // One copy per distinct tensor, each cache-line aligned (the grouped kernels' 64-byte loads stay whole).
  std::map<const uint8_t*, size_t> offset;
  size_t total = 0;
  for (const Entry& e : entries_) {
    if (offset.count(e.view->data)) continue;
    total = (total + 63) / 64 * 64;
    offset[e.view->data] = total;
    total += stored_size(*e.view, e.storage);
  }
  if (total == 0 || total > max_bytes) return false;
  void* p = mmap(nullptr, total, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) return false;
  madvise(p, total, MADV_HUGEPAGE);
  base_ = static_cast<uint8_t*>(p);
  bytes_ = total;
  std::map<const uint8_t*, MatView> done;
  size_t copied = 0;
  for (const Entry& e : entries_) {
    MatView& m = *e.view;
    auto it = done.find(m.data);
    if (it == done.end()) {
      uint8_t* dst = base_ + offset[m.data];
      MatView stored;
      switch (e.storage) {
        case Storage::Repacked: stored = repack(m, dst); break;
        case Storage::WidenedF16: stored = widen_to_f16(m, dst); break;
        default: stored = copy_rows(m, dst); break;
      }
      if (e.storage != Storage::WidenedF16) drop_file_pages(m);
      it = done.emplace(m.data, stored).first;
      copied += stored_size(m, e.storage);
      if (on_progress) on_progress(copied, total);
    }
    // Rows and columns stay the view's own (two views may share one stored tensor).
    m.data = it->second.data;
    m.layout = it->second.layout;
    m.type = it->second.type;
    m.row_stride = it->second.row_stride;
  }
  if (on_progress) on_progress(total, total);  // the alignment padding, so the last report is complete
  return true;
}

}  // namespace qs
