// Holes found by attacking the server as a hostile client would, each closed: compressed bodies are
// refused before they inflate, malformed framing gets an immediate 400, a busy port is an error, an
// empty API key and a template over its budget stop `serve` from starting.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <zlib.h>

#include <chrono>
#include <fstream>
#include <string>

#include "server_test_util.h"
#include "test_util.h"

namespace qs {
namespace {

using Clock = std::chrono::steady_clock;

// Sends raw bytes and reads until the server closes or `timeout` passes; returns what came back.
std::string raw_exchange(int port, const std::string& request, std::chrono::milliseconds timeout, bool* closed = nullptr) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  std::string got;
  if (fd < 0 || ::connect(fd, reinterpret_cast<const sockaddr*>(&a), sizeof a) != 0) return got;
  for (size_t at = 0; at < request.size();) {
    const ssize_t n = ::send(fd, request.data() + at, request.size() - at, MSG_NOSIGNAL);
    if (n <= 0) break;
    at += static_cast<size_t>(n);
  }
  const auto end = Clock::now() + timeout;
  bool eof = false;
  while (!eof && Clock::now() < end) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 50) <= 0) continue;
    char buf[65536];
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) eof = true;
    else got.append(buf, static_cast<size_t>(n));
  }
  if (closed) *closed = eof;
  ::close(fd);
  return got;
}

std::string gzip(const std::string& data) {
  z_stream z{};
  deflateInit2(&z, 9, Z_DEFLATED, 31, 9, Z_DEFAULT_STRATEGY);  // 31: gzip wrapper
  std::string out(deflateBound(&z, data.size()), '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  z.avail_in = static_cast<uInt>(data.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  deflate(&z, Z_FINISH);
  out.resize(z.total_out);
  deflateEnd(&z);
  return out;
}

long rss_kib() {
  std::ifstream in("/proc/self/status");
  for (std::string line; std::getline(in, line);)
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
  return 0;
}

TEST(ServerHardening, CompressedBodyIsRefusedBeforeItInflates) {
  QS_REQUIRE_SERVER_MODEL(model);
  test::TestServer srv(model);
  // 100 MiB of JSON whitespace inside a message: ~100 KB compressed.
  const std::string body = "{\"messages\":[{\"role\":\"user\",\"content\":\"" + std::string(100u << 20, ' ') + "\"}]}";
  const std::string z = gzip(body);
  ASSERT_LT(z.size(), 200000u);
  const long before = rss_kib();
  const auto t0 = Clock::now();
  const std::string req = "POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1:" + std::to_string(srv.port()) +
                          "\r\nContent-Type: application/json\r\nContent-Encoding: gzip\r\nContent-Length: " +
                          std::to_string(z.size()) + "\r\n\r\n" + z;
  for (int i = 0; i < 2; ++i) {
    const std::string got = raw_exchange(srv.port(), req, std::chrono::seconds(5));
    EXPECT_EQ(got.rfind("HTTP/1.1 415", 0), 0u) << got.substr(0, 200);
    EXPECT_NE(got.find("unsupported_content_encoding"), std::string::npos) << got.substr(0, 400);
  }
  EXPECT_LT(std::chrono::duration<double>(Clock::now() - t0).count(), 5.0);
  EXPECT_LT(rss_kib() - before, 64 * 1024) << "the server inflated the body";
  auto c = srv.client();
  EXPECT_EQ(c->Get("/health")->status, 200);
}

TEST(ServerHardening, MalformedContentLengthGetsAnImmediate400AndClose) {
  QS_REQUIRE_SERVER_MODEL(model);
  test::TestServer srv(model);
  for (const std::string len : {"-1", "18446744073709551616", "12abc"}) {
    const auto t0 = Clock::now();
    bool closed = false;
    const std::string got =
        raw_exchange(srv.port(),
                     "POST /v1/completions HTTP/1.1\r\nHost: 127.0.0.1:" + std::to_string(srv.port()) +
                         "\r\nContent-Type: application/json\r\nContent-Length: " + len + "\r\n\r\n{}",
                     std::chrono::seconds(4), &closed);
    EXPECT_EQ(got.rfind("HTTP/1.1 400", 0), 0u) << "Content-Length: " << len << " -> " << got.substr(0, 200);
    EXPECT_EQ(got.find("HTTP/1.1", 5), std::string::npos) << "a second response for Content-Length: " << len;
    EXPECT_TRUE(closed) << "Content-Length: " << len;
    EXPECT_LT(std::chrono::duration<double>(Clock::now() - t0).count(), 2.0) << "Content-Length: " << len;
  }
  // A declared length over the body limit is refused before the body is sent.
  const std::string big = raw_exchange(srv.port(),
                                       "POST /v1/completions HTTP/1.1\r\nHost: 127.0.0.1:" + std::to_string(srv.port()) +
                                           "\r\nContent-Type: application/json\r\nContent-Length: 999999999999\r\n\r\n",
                                       std::chrono::seconds(4));
  EXPECT_EQ(big.rfind("HTTP/1.1 413", 0), 0u) << big.substr(0, 200);
}

// A wrong method on a route that exists is a 405 naming the allowed ones, not a 404.
TEST(ServerHardening, WrongMethodIs405WithAllow) {
  QS_REQUIRE_SERVER_MODEL(model);
  test::TestServer srv(model);
  auto c = srv.client();
  const auto r = c->Get("/v1/chat/completions");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 405) << r->body;
  EXPECT_EQ(r->get_header_value("Allow"), "POST");
  EXPECT_EQ(c->Get("/v1/no-such-route")->status, 404);
}

TEST(ServerHardening, BusyPortIsAnErrorNamingIt) {
  QS_REQUIRE_SERVER_MODEL(model);
  test::TestServer first(model);
  server::ServerOptions o;
  o.host = "127.0.0.1";
  o.port = first.port();
  o.quiet = true;
  server::HttpServer second(o);
  try {
    second.start();
    ADD_FAILURE() << "a second server bound the busy port " << first.port();
  } catch (const std::exception& e) {
    EXPECT_NE(std::string(e.what()).find(std::to_string(first.port())), std::string::npos) << e.what();
  }
}

TEST(ServerHardening, EmptyApiKeyStopsServeFromStarting) {
  QS_REQUIRE_SERVER_MODEL(model);
  const std::string cli = "timeout -k 2 20 " + std::string(QIUSUO_CLI_PATH) + " serve --port 0 -m " + model;
  for (const std::string& cmd : {cli + " --api-key ,", cli + " --api-key 'good, '", "QIUSUO_API_KEY=, " + cli}) {
    const test::ShellResult r = test::run_shell(cmd + " 2>&1");
    EXPECT_NE(r.status, 0) << cmd;
    EXPECT_NE(r.out.find("empty key"), std::string::npos) << cmd << "\n" << r.out;
    EXPECT_EQ(r.out.find("listening on"), std::string::npos) << cmd << "\n" << r.out;
  }
}

TEST(ServerHardening, TemplateFileOverItsBudgetStopsServeFromStarting) {
  QS_REQUIRE_SERVER_MODEL(model);
  const std::string tmpl = (std::filesystem::temp_directory_path() / ("qiusuo_f40_" + std::to_string(getpid()) + ".jinja")).string();
  std::ofstream(tmpl) << "{% macro f(n) %}{% if n > 0 %}{{ f(n - 1) }}{{ f(n - 1) }}{% endif %}{% endmacro %}{{ f(40) }}";
  const auto t0 = Clock::now();
  const test::ShellResult r = test::run_shell("timeout -k 2 60 " + std::string(QIUSUO_CLI_PATH) + " serve --port 0 -m " + model +
                                              " --chat-template-file " + tmpl + " 2>&1");
  EXPECT_NE(r.status, 0) << r.out;
  EXPECT_NE(r.status, 124) << "serve hung on the template";
  EXPECT_NE(r.out.find("work limit"), std::string::npos) << r.out;
  EXPECT_LT(std::chrono::duration<double>(Clock::now() - t0).count(), 30.0);
  std::filesystem::remove(tmpl);
}

}  // namespace
}  // namespace qs
