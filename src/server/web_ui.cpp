#include "server/web_ui.h"

#include <cstddef>

// webui/index.html, compiled in by cmake/webui.cmake.
extern const unsigned char qiusuo_webui_index[];
extern const std::size_t qiusuo_webui_index_size;

namespace qs::server {

const std::string& web_ui_html() {
  static const std::string page(reinterpret_cast<const char*>(qiusuo_webui_index), qiusuo_webui_index_size);
  return page;
}

}  // namespace qs::server
