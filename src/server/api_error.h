// OpenAI-style errors: {"error": {"message", "type", "param", "code"}} with an HTTP status, and a
// JSON dump that never throws on invalid UTF-8 (generated text may contain anything).
#pragma once
#include <stdexcept>
#include <string>

#include <nlohmann/json.hpp>

namespace qs::server {

using json = nlohmann::ordered_json;

// Serialises with invalid UTF-8 replaced by U+FFFD.
std::string dump_json(const json& j);

class ApiError : public std::runtime_error {
 public:
  ApiError(int status, std::string message, std::string type = "", std::string param = "", std::string code = "");
  int status() const { return status_; }
  const std::string& type() const { return type_; }
  const std::string& param() const { return param_; }
  const std::string& code() const { return code_; }
  json to_json() const;

 private:
  int status_;
  std::string type_, param_, code_;
};

// The usual error type name for a status (400 invalid_request_error, 401 authentication_error, ...).
const char* error_type_for_status(int status);
json error_json(int status, const std::string& message, const std::string& type = "", const std::string& param = "",
                const std::string& code = "");

inline ApiError bad_request(const std::string& message, const std::string& param = "", const std::string& code = "") {
  return ApiError(400, message, "invalid_request_error", param, code);
}

}  // namespace qs::server
