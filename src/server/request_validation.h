// Parses and checks OpenAI / DeepSeek request bodies before anything reaches the engine: every
// field's type and range, limits on sizes and counts. Throws ApiError (400) naming the field.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "engine/generator.h"
#include "server/api_error.h"

namespace qs::server {

struct RequestLimits {
  int n_vocab = 0;
  int n_ctx = 0;              // per-request context (slot size)
  size_t max_messages = 2048;
  size_t max_stop = 16;
  size_t max_stop_len = 256;
  size_t max_tools = 128;
  size_t max_logit_bias = 1024;
};

// What every generation request shares (chat and completions): the generation settings and how
// the answer is delivered.
struct GenParams : GenerationParams {
  bool stream = false;
  bool include_usage = false;
};

struct ChatRequest {
  std::string model;
  GenParams gen;
  json messages = json::array();  // normalised: role + string content (+ tool_calls, tool_call_id, name)
  json tools;                     // null or the array as given
  std::string tool_choice = "none";  // none | auto | required | function
  std::string tool_choice_name;      // tool_choice == function
  std::string response_format = "text";  // text | json_object | json_schema
  json json_schema;                        // json_schema: the schema object (may be null)
  bool prefix_completion = false;          // last message is {role: assistant, prefix: true}
  std::string assistant_prefix;            // its content
  json template_kwargs = json::object();   // chat_template_kwargs: extra template variables
};

struct CompletionRequest {
  std::string model;
  GenParams gen;
  std::string prompt;
  std::vector<int32_t> prompt_tokens;  // given as token ids instead of text
  bool prompt_is_tokens = false;
  std::optional<std::string> suffix;   // FIM
  bool echo = false;
};

// A request body as JSON: 400 when it is empty, not JSON, or nested deeper than kMaxJsonDepth (nlohmann
// parses iteratively but dumps and compares recursively, so a body of 4 million '[' would overflow the
// stack later, e.g. when tool-call arguments are written back into the prompt).
constexpr int kMaxJsonDepth = 128;
json parse_request_json(std::string_view body);

ChatRequest parse_chat_request(const json& body, const RequestLimits& lim);
CompletionRequest parse_completion_request(const json& body, const RequestLimits& lim);

// {"content": "...", "add_special": bool, "parse_special": bool, "with_pieces": bool} / {"tokens": [...]}
struct TokenizeRequest {
  std::string content;
  bool add_special = true;
  bool parse_special = true;
  bool with_pieces = false;
};
TokenizeRequest parse_tokenize_request(const json& body);
std::vector<int32_t> parse_detokenize_request(const json& body, int n_vocab);

}  // namespace qs::server
