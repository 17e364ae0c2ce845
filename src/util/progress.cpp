#include "util/progress.h"

#include <utility>

namespace qs {

std::string human_bytes(double b) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  int u = 0;
  while (b >= 1024 && u < 4) {
    b /= 1024;
    ++u;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, u == 0 ? "%.0f %s" : "%.1f %s", b, units[u]);
  return buf;
}

Progress::Progress(std::string label, uint64_t total, uint64_t done, bool tty, FILE* out)
    : label_(std::move(label)), total_(total), start_done_(done), tty_(tty), out_(out), done_(done) {
  thread_ = std::thread([this] { loop(); });
}

Progress::~Progress() { finish(); }

void Progress::loop() {
  std::unique_lock<std::mutex> lock(mu_);
  // A terminal is redrawn five times a second; a log gets a line every 10 s.
  const auto period = tty_ ? std::chrono::milliseconds(200) : std::chrono::milliseconds(10000);
  while (!cv_.wait_for(lock, period, [this] { return stop_; })) report(false);
}

void Progress::report(bool final) {
  const uint64_t done = done_.load();
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0_).count();
  const double rate = secs > 0 ? static_cast<double>(done - std::min(done, start_done_)) / secs : 0;
  const double frac = total_ > 0 ? static_cast<double>(done) / static_cast<double>(total_) : 1.0;
  char eta[32] = "";
  if (!final && rate > 0 && done < total_) {
    const long s = static_cast<long>(static_cast<double>(total_ - done) / rate);
    std::snprintf(eta, sizeof eta, "  ETA %ld:%02ld:%02ld", s / 3600, s / 60 % 60, s % 60);
  }
  const std::string line = human_bytes(static_cast<double>(done)) + " / " + human_bytes(static_cast<double>(total_)) +
                           "  " + std::to_string(static_cast<int>(frac * 100)) + "%  " + human_bytes(rate) + "/s" + eta;
  if (tty_) {
    constexpr int kWidth = 30;
    const int filled = std::min(static_cast<int>(frac * kWidth), kWidth);
    char bar[kWidth + 3];
    bar[0] = '[';
    for (int i = 0; i < kWidth; ++i) bar[1 + i] = i < filled ? '#' : '.';
    bar[kWidth + 1] = ']';
    bar[kWidth + 2] = '\0';
    std::fprintf(out_, "\r\033[K%s %s %s%s", label_.c_str(), bar, line.c_str(), final ? "\n" : "");
  } else {
    std::fprintf(out_, "%s: %s\n", label_.c_str(), line.c_str());
  }
  std::fflush(out_);
}

void Progress::note(const std::string& line) {
  std::lock_guard<std::mutex> lock(mu_);
  std::fprintf(out_, tty_ ? "\r\033[K%s: %s\n" : "%s: %s\n", label_.c_str(), line.c_str());
  std::fflush(out_);
}

void Progress::finish() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stop_) return;
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
  std::lock_guard<std::mutex> lock(mu_);
  report(true);
}

}  // namespace qs
