// Server-sent events as OpenAI streams them: "data: {json}\n\n" per event.
#pragma once
#include <string>

#include "server/api_error.h"

namespace qs::server {

inline std::string sse_data(const json& j) { return "data: " + dump_json(j) + "\n\n"; }

}  // namespace qs::server
