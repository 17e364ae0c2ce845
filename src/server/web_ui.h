// The chat page served at "/": one self-contained HTML document (no external resources).
#pragma once
#include <string>

namespace qs::server {

const std::string& web_ui_html();

}  // namespace qs::server
