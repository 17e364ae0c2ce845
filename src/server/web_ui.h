// The chat page served at "/": webui/index.html, one self-contained HTML document (no external
// resources), embedded at build time.
#pragma once
#include <string>

namespace qs::server {

const std::string& web_ui_html();

}  // namespace qs::server
