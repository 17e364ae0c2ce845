// What the routes see of HTTP, whatever library carries it: a parsed request, and a response that
// holds either a whole body or a function that streams one (SSE, long waits) through a BodyWriter.
// http_server.cpp adapts the library to these; nothing above it includes the library.
#pragma once
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace qs::server {

struct HttpRequest {
  std::string method, path, body, remote_addr;
  std::vector<std::pair<std::string, std::string>> headers;

  // The first header of that name (case-insensitive), or nullptr.
  const std::string* header(std::string_view name) const;
};

// A streamed body's outlet. write() returns false once the client is gone; writable() tells it
// without writing (a client that left while nothing was being sent).
class BodyWriter {
 public:
  virtual ~BodyWriter() = default;
  virtual bool write(std::string_view data) = 0;
  virtual bool writable() const = 0;
};

struct HttpResponse {
  int status = 200;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string content_type, body;
  // A streamed body (chunked): runs once; returns true when the body is complete, false when the
  // client went away. on_close(completed) runs after it, also when the stream never started.
  std::function<bool(BodyWriter&)> stream;
  std::function<void(bool)> on_close;

  void set_header(std::string name, std::string value) { headers.emplace_back(std::move(name), std::move(value)); }
  void set_content(std::string b, std::string type) {
    body = std::move(b);
    content_type = std::move(type);
  }
};

using RouteHandler = std::function<void(const HttpRequest&, HttpResponse&)>;

struct Route {
  std::string method;  // GET | POST
  std::string path;
  RouteHandler handler;
};

}  // namespace qs::server
