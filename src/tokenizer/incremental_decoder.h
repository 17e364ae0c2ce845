// Streaming detokenization: turns ids into text as they are generated without ever emitting half a
// UTF-8 character, and without emitting text that may turn out to be the start of a stop string.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace qs {

class Tokenizer;

class IncrementalDecoder {
 public:
  struct Step {
    std::string text;   // safe to show now (on a stop: everything before the stop string)
    bool stopped = false;
    std::string stop;   // the stop string that was found
  };

  // tok must outlive the decoder. Empty stop strings are ignored.
  explicit IncrementalDecoder(const Tokenizer& tok, std::vector<std::string> stop_strings = {},
                              bool skip_special = false);

  // Adds one token; throws std::out_of_range for an id outside the vocabulary. After a stop,
  // further pushes return nothing.
  Step push(int32_t id);
  // Adds raw bytes (the same rules apply).
  Step push_bytes(std::string_view bytes);
  // End of stream: everything held back, incomplete characters included (a truncated stream
  // ends with the bytes it has).
  Step finish();

  bool stopped() const { return stopped_; }

 private:
  const Tokenizer* tok_;
  std::vector<std::string> stops_;
  bool skip_special_;
  std::string pending_;  // decoded but not yet emitted
  bool stopped_ = false;
};

}  // namespace qs
