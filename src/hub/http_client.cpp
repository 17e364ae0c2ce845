#include "hub/http_client.h"

#include <curl/curl.h>

#include <cstdlib>
#include <mutex>

#include "util/ascii.h"
#include "util/version.h"

namespace qs::hub {

namespace {

void global_init() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

// What a transfer's callbacks share.
struct Transfer {
  CURL* curl = nullptr;
  HttpReply reply;
  uint64_t from = 0;
  size_t max_body = 0;
  bool streaming = false;
  bool started = false;
  bool success = false;  // streaming: the reply is the body the caller wants
  bool aborted = false;
  bool too_long = false;
  const HttpClient::StartFn* on_start = nullptr;
  const HttpClient::SinkFn* sink = nullptr;
};

size_t on_header(char* data, size_t size, size_t n, void* user) {
  auto* t = static_cast<Transfer*>(user);
  const std::string line(data, size * n);
  if (line.rfind("HTTP/", 0) == 0) {
    t->reply.headers.clear();  // a new response (after a redirect or a 100)
  } else if (const size_t colon = line.find(':'); colon != std::string::npos) {
    t->reply.headers[ascii_lower(trim_space(line.substr(0, colon)))] = trim_space(line.substr(colon + 1));
  }
  return size * n;
}

size_t on_body(char* data, size_t size, size_t n, void* user) {
  auto* t = static_cast<Transfer*>(user);
  const size_t len = size * n;
  if (!t->started) {
    t->started = true;
    curl_easy_getinfo(t->curl, CURLINFO_RESPONSE_CODE, &t->reply.status);
    if (t->streaming && (t->reply.status == 200 || t->reply.status == 206)) {
      t->success = true;
      uint64_t offset = 0;
      if (t->reply.status == 206) {
        // "bytes START-END/TOTAL": where the body really starts (a server may answer another range).
        const std::string cr = t->reply.header("content-range");
        offset = cr.rfind("bytes ", 0) == 0 ? std::strtoull(cr.c_str() + 6, nullptr, 10) : t->from;
      }
      if (!(*t->on_start)(t->reply.status, offset)) {
        t->aborted = true;
        return 0;
      }
    }
  }
  if (t->streaming && t->success) {
    if (!(*t->sink)(data, len)) {
      t->aborted = true;
      return 0;
    }
    return len;
  }
  // get(), or an error reply while streaming: keep the body, bounded.
  const size_t cap = t->streaming ? size_t{64} << 10 : t->max_body;
  if (t->reply.body.size() + len > cap) {
    if (t->streaming) return len;  // the start of an error page is enough
    t->too_long = true;
    return 0;
  }
  t->reply.body.append(data, len);
  return len;
}

}  // namespace

std::string HttpReply::header(const std::string& name) const {
  const auto it = headers.find(ascii_lower(name));
  return it == headers.end() ? "" : it->second;
}

double HttpReply::retry_after_seconds() const {
  const std::string v = header("retry-after");
  if (v.empty() || v.find_first_not_of("0123456789") != std::string::npos || v.size() > 6) return -1;
  return std::stod(v);
}

struct HttpClient::Impl {
  CURL* curl = nullptr;

  HttpReply perform(const std::string& url, Transfer& t, const RequestOptions& o) {
    curl_easy_reset(curl);
    t.curl = curl;
    curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
    curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(curl, CURLOPT_MAXREDIRS, 10L);
    // Redirects may go from https to http only on a loopback stand-in; never to file:// or others.
    curl_easy_setopt(curl, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT, o.connect_timeout_s);
    curl_easy_setopt(curl, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(curl, CURLOPT_LOW_SPEED_TIME, o.stall_timeout_s);
    curl_easy_setopt(curl, CURLOPT_USERAGENT, (std::string("qiusuo/") + kVersion).c_str());
    curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(curl, CURLOPT_HEADERDATA, &t);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &t);
    std::string range;
    if (t.from > 0) {
      range = std::to_string(t.from) + "-";
      curl_easy_setopt(curl, CURLOPT_RANGE, range.c_str());
    }
    curl_slist* headers = nullptr;
    for (const auto& h : o.headers) headers = curl_slist_append(headers, h.c_str());
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
    const CURLcode rc = curl_easy_perform(curl);
    curl_slist_free_all(headers);
    if (!t.started) curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &t.reply.status);
    if (t.too_long) throw std::runtime_error(url + ": reply longer than " + std::to_string(o.max_body) + " bytes");
    if (rc != CURLE_OK && !t.aborted)
      throw TransportError(url + ": " + curl_easy_strerror(rc));
    return std::move(t.reply);
  }
};

HttpClient::HttpClient() : impl_(std::make_unique<Impl>()) {
  global_init();
  impl_->curl = curl_easy_init();
  if (!impl_->curl) throw std::runtime_error("libcurl: cannot create a handle");
}

HttpClient::~HttpClient() { curl_easy_cleanup(impl_->curl); }

HttpReply HttpClient::get(const std::string& url, const RequestOptions& o) {
  Transfer t;
  t.max_body = o.max_body;
  return impl_->perform(url, t, o);
}

HttpReply HttpClient::stream(const std::string& url, uint64_t from, const StartFn& on_start, const SinkFn& sink,
                             const RequestOptions& o) {
  Transfer t;
  t.from = from;
  t.streaming = true;
  t.on_start = &on_start;
  t.sink = &sink;
  HttpReply r = impl_->perform(url, t, o);
  // An empty successful body never reached on_body.
  if (!t.started && (r.status == 200 || r.status == 206)) on_start(r.status, r.status == 206 ? from : 0);
  return r;
}

std::string url_encode(const std::string& s) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

}  // namespace qs::hub
