// Progress of a long job counted in bytes (a download, a conversion) on stderr: a redrawn bar on a
// terminal, a plain line every few seconds otherwise (logs, CI). Threads may add to it concurrently.
#pragma once
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <mutex>
#include <string>
#include <thread>

namespace qs {

class Progress {
 public:
  // `total` bytes to have at the end, `done` of them already on disk.
  Progress(std::string label, uint64_t total, uint64_t done, bool tty, FILE* out = stderr);
  ~Progress();
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;

  void add(uint64_t n) { done_ += n; }
  void rewind(uint64_t n) { done_ -= n; }  // bytes thrown away (a file started over)
  void note(const std::string& line);      // a message between redraws (a retry, a finished file)
  void finish();                           // final line; stops the reporter

 private:
  void report(bool final);
  void loop();

  const std::string label_;
  const uint64_t total_, start_done_;
  const bool tty_;
  FILE* out_;
  std::atomic<uint64_t> done_;
  std::chrono::steady_clock::time_point t0_ = std::chrono::steady_clock::now();
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::thread thread_;
};

// "1.5 GiB", "512 KiB".
std::string human_bytes(double b);

}  // namespace qs
