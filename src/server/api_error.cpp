#include "server/api_error.h"

namespace qs::server {

std::string dump_json(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

const char* error_type_for_status(int status) {
  switch (status) {
    case 400: case 413: case 422: return "invalid_request_error";
    case 401: return "authentication_error";
    case 403: return "permission_error";
    case 404: return "not_found_error";
    case 429: return "rate_limit_error";
    case 503: return "unavailable_error";
    default: return status >= 500 ? "server_error" : "invalid_request_error";
  }
}

json error_json(int status, const std::string& message, const std::string& type, const std::string& param,
                const std::string& code) {
  json e = json::object();
  e["message"] = message;
  e["type"] = type.empty() ? error_type_for_status(status) : type;
  e["param"] = param.empty() ? json(nullptr) : json(param);
  e["code"] = code.empty() ? json(status) : json(code);
  return json{{"error", e}};
}

ApiError::ApiError(int status, std::string message, std::string type, std::string param, std::string code)
    : std::runtime_error(message), status_(status), type_(std::move(type)), param_(std::move(param)), code_(std::move(code)) {}

json ApiError::to_json() const { return error_json(status_, what(), type_, param_, code_); }

}  // namespace qs::server
