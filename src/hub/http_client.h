// HTTP(S) GETs for talking to model hubs, on libcurl (TLS, proxies from the environment, redirects,
// HTTP/2 and ranges are its job, not ours). One HttpClient per thread.
#pragma once
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace qs::hub {

// The request never got an answer (refused, reset, timed out, stalled): worth retrying.
struct TransportError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct HttpReply {
  long status = 0;
  std::map<std::string, std::string> headers;  // of the final response, names lower-case
  std::string body;                            // get(): the body; stream(): an error reply's body only
  std::string header(const std::string& name) const;
  // The wait a 429/503 asks for in Retry-After (the seconds form only), else -1.
  double retry_after_seconds() const;
};

struct RequestOptions {
  std::vector<std::string> headers;  // "Name: value"
  long connect_timeout_s = 20;
  long stall_timeout_s = 30;          // fails when under 1 byte/s for this long
  size_t max_body = size_t{64} << 20;  // get(): longer bodies are an error
};

class HttpClient {
 public:
  HttpClient();
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  // GET with redirects followed; throws TransportError when no reply came.
  HttpReply get(const std::string& url, const RequestOptions& o);

  // GET from byte `from` on (a Range request when from > 0), handing the body of a successful reply to
  // `sink` as it arrives. `on_start(status, offset)` is called once before the first byte with the
  // offset the body starts at (0 when the server ignored the range); returning false, like a false from
  // `sink`, ends the transfer. Throws TransportError when the connection fails or stalls midway.
  using StartFn = std::function<bool(long status, uint64_t offset)>;
  using SinkFn = std::function<bool(const char* data, size_t n)>;
  HttpReply stream(const std::string& url, uint64_t from, const StartFn& on_start, const SinkFn& sink, const RequestOptions& o);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Percent-encodes one path segment or query value (RFC 3986 unreserved characters kept).
std::string url_encode(const std::string& s);

}  // namespace qs::hub
