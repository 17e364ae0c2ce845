// qiusuo serve under hostile clients and faults, all on loopback and bounded in count and time:
// clients that vanish at every phase (queued, prefill, decode, mid-request, mid-SSE), slowloris
// connections (the per-request read deadline, --read-timeout), a 10x overload burst (fast 429s),
// SIGTERM under load and while loading, and a soak mixing all of it with an RSS bound.
// Measured figures are printed (and recorded as test properties) so they can be quoted.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <fstream>
#include <future>
#include <map>
#include <mutex>
#include <random>
#include <string_view>

#include "server_test_util.h"
#include "test_util.h"

// Sanitizer builds (memory figures mean something else there).
#if defined(__SANITIZE_ADDRESS__)
#define QS_FAULTS_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define QS_FAULTS_ASAN 1
#endif
#endif
#ifndef QS_FAULTS_ASAN
#define QS_FAULTS_ASAN 0
#endif
#if defined(__SANITIZE_THREAD__)
#define QS_FAULTS_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define QS_FAULTS_TSAN 1
#endif
#endif
#ifndef QS_FAULTS_TSAN
#define QS_FAULTS_TSAN 0
#endif

#if QS_FAULTS_TSAN
// ThreadSanitizer builds: applies to this whole test binary (as src/cli/cmd_serve.cpp does for
// `qiusuo serve`). Debian's libcpp-httplib is not instrumented, so TSan cannot see the guarded
// initialization of its function-local statics (the request-method set, the end-of-chunks
// marker): when the first requests of a process arrive concurrently -- this file's bursts, run
// by ctest one test per process -- their first uses on two threads are reported as races.
// Accesses made by interceptors the library calls (its memcpy / memcmp) are ignored;
// synchronization is still tracked and our own code is still checked.
extern "C" const char* __tsan_default_suppressions() { return "called_from_lib:libcpp-httplib.so\n"; }
#endif

namespace qs {
namespace {

using namespace std::chrono_literals;
using test::chat_body;
using test::http_get;
using test::http_post;
using test::http_stream;
using test::json;
using test::wait_until;
using SteadyClock = std::chrono::steady_clock;

double seconds_since(SteadyClock::time_point t0) { return std::chrono::duration<double>(SteadyClock::now() - t0).count(); }

// A metric that may not exist yet (a labelled counter before its first increment) reads as 0.
double metric0(int port, const std::string& name) { return std::max(0.0, test::metric(port, name)); }

// The metrics request itself holds one connection: 1 means no other connection is open.
bool connections_settle(int port) {
  return wait_until([&] { return test::metric(port, "qiusuo_http_connections") == 1; }, 10s);
}

bool scheduler_idle(int port) {
  return wait_until(
      [&] { return test::metric(port, "qiusuo_requests_running") == 0 && test::metric(port, "qiusuo_requests_waiting") == 0; }, 10s);
}

// A plain request must still work.
void expect_still_serving(int port) {
  auto r = http_post(port, "/v1/chat/completions", chat_body("are you still there?", 3).dump());
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(http_get(port, "/health").status, 200);
}

// After a fault: nothing left running or waiting, a plain request still works, and every
// connection the fault opened has closed.
void expect_recovered(int port) {
  EXPECT_TRUE(scheduler_idle(port));
  expect_still_serving(port);
  EXPECT_TRUE(connections_settle(port));
}

// A raw loopback TCP connection, for what httplib::Client cannot do: half requests, partial
// reads, slow writes, resets.
class RawConn {
 public:
  explicit RawConn(int port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd_ < 0) return;
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(port));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd_, reinterpret_cast<const sockaddr*>(&a), sizeof a) != 0) {
      ::close(fd_);
      fd_ = -1;
      return;
    }
    const int one = 1;
    ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  }
  ~RawConn() { close(); }
  RawConn(const RawConn&) = delete;
  RawConn& operator=(const RawConn&) = delete;

  bool ok() const { return fd_ >= 0; }

  bool send_all(std::string_view s) {
    while (!s.empty()) {
      const ssize_t n = ::send(fd_, s.data(), s.size(), MSG_NOSIGNAL);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return false;
      s.remove_prefix(static_cast<size_t>(n));
    }
    return true;
  }

  // Appends what arrives within timeout (at most max bytes): > 0 bytes read, 0 the peer closed,
  // -1 an error (a reset), -2 nothing arrived.
  int read_some(std::string& out, std::chrono::milliseconds timeout, size_t max = 1 << 16) {
    pollfd p{fd_, POLLIN, 0};
    const int r = ::poll(&p, 1, static_cast<int>(timeout.count()));
    if (r == 0) return -2;
    if (r < 0) return -1;
    std::string buf(max, '\0');
    const ssize_t n = ::recv(fd_, buf.data(), max, 0);
    if (n < 0) return -1;
    out.append(buf.data(), static_cast<size_t>(n));
    return static_cast<int>(n);
  }

  // Reads until `needle` has arrived (true) or the peer closed / the time is up (false).
  bool read_until(const std::string& needle, std::string& got, std::chrono::milliseconds timeout) {
    const auto end = SteadyClock::now() + timeout;
    while (got.find(needle) == std::string::npos) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(end - SteadyClock::now());
      if (left.count() <= 0) return false;
      const int n = read_some(got, left);
      if (n == 0 || n == -1) return got.find(needle) != std::string::npos;
    }
    return true;
  }

  // Whether the server has closed the connection (end of stream or reset), without waiting;
  // data that arrived is dropped.
  bool peer_closed() {
    for (;;) {
      char buf[4096];
      const ssize_t n = ::recv(fd_, buf, sizeof buf, MSG_DONTWAIT);
      if (n > 0) continue;
      if (n == 0) return true;
      return errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR;
    }
  }

  // True when the server closes the connection within timeout.
  bool wait_closed(std::chrono::milliseconds timeout) {
    const auto end = SteadyClock::now() + timeout;
    for (;;) {
      if (peer_closed()) return true;
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(end - SteadyClock::now());
      if (left.count() <= 0) return false;
      pollfd p{fd_, POLLIN, 0};
      ::poll(&p, 1, static_cast<int>(std::min<int64_t>(left.count(), 50)));
    }
  }

  void close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }
  // Closes with a reset (RST) instead of an orderly FIN.
  void reset() {
    if (fd_ < 0) return;
    const linger l{1, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_LINGER, &l, sizeof l);
    close();
  }

 private:
  int fd_ = -1;
};

std::string http_request(int port, const std::string& method, const std::string& path, const std::string& body,
                         const std::string& extra_headers = "") {
  std::string r = method + " " + path + " HTTP/1.1\r\nHost: 127.0.0.1:" + std::to_string(port) + "\r\n" + extra_headers;
  if (!body.empty() || method == "POST")
    r += "Content-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) + "\r\n";
  return r + "\r\n" + body;
}

// A long streamed generation holding a slot until release() (then its client hangs up).
class SlotHolder {
 public:
  SlotHolder(int port, const std::string& prompt, int max_tokens) {
    fut_ = std::async(std::launch::async, [this, port, prompt, max_tokens] {
      return http_stream(port, "/v1/chat/completions",
                         chat_body(prompt, max_tokens, {{"ignore_eos", true}, {"stream", true}}).dump(),
                         [this](const json&) {
                           ++chunks_;
                           return !release_.load();
                         });
    });
  }
  ~SlotHolder() { release(); }
  bool started() {
    return wait_until([&] { return chunks_.load() > 2; }, 20s);
  }
  void release() {
    release_ = true;
    if (fut_.valid()) fut_.get();
  }

 private:
  std::atomic<int> chunks_{0};
  std::atomic<bool> release_{false};
  std::future<test::StreamResult> fut_;
};

std::string long_prompt(int words) {
  std::string s;
  for (int i = 0; i < words; ++i) s += "w" + std::to_string(i % 97) + " ";
  return s;
}

std::string percentile_ms(std::vector<double> v, double q) {
  if (v.empty()) return "n/a";
  std::sort(v.begin(), v.end());
  const size_t i = std::min(v.size() - 1, static_cast<size_t>(q * static_cast<double>(v.size() - 1) + 0.5));
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f", v[i] * 1000);
  return buf;
}

// ---------------------------------------------------------------------------------------------
// 1. Clients that disconnect at every phase.

TEST(ServerFaultDisconnect, WhileQueuedFreesTheQueuePlace) {
  QS_REQUIRE_SERVER_MODEL(model);
  server::ServerOptions o;
  o.parallel = 1;
  o.max_queue = 2;
  o.ctx_size = 8192;  // room for a holder that outlasts the test
  test::TestServer s(model, o);
  SlotHolder a(s.port(), "hold the only slot", 8000);
  ASSERT_TRUE(a.started());
  const double aborted0 = metric0(s.port(), "qiusuo_requests_aborted_total{reason=\"client_disconnected\"}");
  // A streamed request waits in the queue (its headers and role chunk are sent at once), and
  // its client leaves; then the same with a non-streamed one (which gets no byte while queued).
  for (bool stream : {true, false}) {
    SCOPED_TRACE(stream ? "streamed" : "not streamed");
    RawConn c(s.port());
    ASSERT_TRUE(c.ok());
    ASSERT_TRUE(c.send_all(http_request(s.port(), "POST", "/v1/chat/completions", chat_body("queued", 5, {{"stream", stream}}).dump())));
    ASSERT_TRUE(wait_until([&] { return test::metric(s.port(), "qiusuo_requests_waiting") == 1; }, 10s));
    if (stream) {
      std::string got;
      ASSERT_TRUE(c.read_until("data: ", got, 10s)) << got;
      EXPECT_EQ(got.rfind("HTTP/1.1 200", 0), 0u) << got;
    }
    const auto t0 = SteadyClock::now();
    c.close();
    EXPECT_TRUE(wait_until([&] { return test::metric(s.port(), "qiusuo_requests_waiting") == 0; }, 10s));
    std::printf("[ faults ] queued %s request: client gone -> queue place freed after %.2f s\n", stream ? "streamed" : "plain",
                seconds_since(t0));
  }
  // (A dropped waiting request is counted just after it leaves the queue.)
  EXPECT_TRUE(wait_until(
      [&] { return metric0(s.port(), "qiusuo_requests_aborted_total{reason=\"client_disconnected\"}") >= aborted0 + 2; }, 5s));
  EXPECT_EQ(test::metric(s.port(), "qiusuo_requests_running"), 1) << "the slot holder still runs";
  a.release();
  expect_recovered(s.port());
}

TEST(ServerFaultDisconnect, DuringPrefillFreesTheSlot) {
  QS_REQUIRE_SERVER_MODEL(model);
  server::ServerOptions o;
  o.parallel = 2;
  o.ctx_size = 8192;
  o.step_tokens = 16;  // a long prompt takes hundreds of steps (each also decoding the holder)
  o.cache_mib = 0;
  test::TestServer s(model, o);
  SlotHolder a(s.port(), "decode beside the prefill", 8000);
  ASSERT_TRUE(a.started());
  const std::string prompt = long_prompt(3300);  // ~7000 tokens
  const double ttft0 = test::metric(s.port(), "qiusuo_time_to_first_token_seconds_count");
  const double queries0 = test::metric(s.port(), "qiusuo_prefix_cache_queries_total");
  const double aborted0 = metric0(s.port(), "qiusuo_requests_aborted_total{reason=\"client_disconnected\"}");
  RawConn c(s.port());
  ASSERT_TRUE(c.ok());
  ASSERT_TRUE(c.send_all(http_request(s.port(), "POST", "/v1/chat/completions", chat_body(prompt, 5, {{"stream", true}}).dump())));
  // Admitted (its prompt was looked up in the prefix cache): the prefill is under way.
  ASSERT_TRUE(wait_until([&] { return test::metric(s.port(), "qiusuo_prefix_cache_queries_total") > queries0 + 1000; }, 20s));
  const double prompt_tokens = test::metric(s.port(), "qiusuo_prefix_cache_queries_total") - queries0;
  const bool in_prefill = test::metric(s.port(), "qiusuo_time_to_first_token_seconds_count") == ttft0;
  const auto t0 = SteadyClock::now();
  c.reset();
  EXPECT_TRUE(wait_until([&] { return test::metric(s.port(), "qiusuo_requests_running") == 1; }, 10s));
  const double freed_s = seconds_since(t0);
  EXPECT_GE(metric0(s.port(), "qiusuo_requests_aborted_total{reason=\"client_disconnected\"}"), aborted0 + 1);
  const bool no_first_token = test::metric(s.port(), "qiusuo_time_to_first_token_seconds_count") == ttft0;
  std::printf("[ faults ] prefill of %.0f tokens: client reset -> slot freed after %.2f s (%s)\n", prompt_tokens, freed_s,
              no_first_token ? "the prefill was cut short" : "the prefill had finished");
  // The client is noticed while nothing is written to it (the SSE wait checks the socket every
  // 0.2 s), so the prefill (about 3.7 s here) stops early instead of running on to the first token.
  if (in_prefill) {
    EXPECT_TRUE(no_first_token) << "the prefill ran on to its end after the client left";
  }
  a.release();
  expect_recovered(s.port());
}

TEST(ServerFaultDisconnect, DuringDecodeFreesTheSlot) {
  QS_REQUIRE_SERVER_MODEL(model);
  server::ServerOptions o;
  o.parallel = 1;
  o.ctx_size = 8192;  // answers long enough that none can end by itself during the test
  test::TestServer s(model, o);
  const int port = s.port();
  const int max_tokens = 8000;
  auto aborted = [&] { return metric0(port, "qiusuo_requests_aborted_total{reason=\"client_disconnected\"}"); };
  // Streamed: after a few events, an orderly close, then a reset. Not streamed: the answer is
  // held back (whitespace keep-alives every second once 1.5 s have passed); the client leaves.
  for (const char* how : {"streamed, close", "streamed, reset", "not streamed, close"}) {
    SCOPED_TRACE(how);
    const bool stream = how[0] == 's';
    const double aborted0 = aborted();
    const double tokens0 = test::metric(port, "qiusuo_generation_tokens_total");
    RawConn c(port);
    const json body = chat_body("decode for a long time", max_tokens, {{"ignore_eos", true}, {"stream", stream}});
    ASSERT_TRUE(c.send_all(http_request(port, "POST", "/v1/chat/completions", body.dump())));
    if (stream) {
      std::string got;
      ASSERT_TRUE(c.read_until("data: ", got, 20s)) << got;
    }
    // Decoding (the first event, the role chunk, comes before any token).
    ASSERT_TRUE(wait_until([&] { return test::metric(port, "qiusuo_generation_tokens_total") > tokens0 + 3; }, 20s));
    const auto t0 = SteadyClock::now();
    std::string(how).find("reset") != std::string::npos ? c.reset() : c.close();
    EXPECT_TRUE(wait_until([&] { return test::metric(port, "qiusuo_requests_running") == 0; }, 10s));
    const double freed = seconds_since(t0);
    const double generated = test::metric(port, "qiusuo_generation_tokens_total") - tokens0;
    std::printf("[ faults ] decode (%s): slot freed after %.2f s, %.0f of %d tokens generated\n", how, freed, generated, max_tokens);
    EXPECT_TRUE(wait_until([&] { return aborted() >= aborted0 + 1; }, 5s));
    EXPECT_LT(generated, max_tokens / 2) << "generation went on after the client left";
  }
  expect_still_serving(port);
  EXPECT_TRUE(connections_settle(port));
}

TEST(ServerFaultDisconnect, MidRequestAndMidSseChunk) {
  QS_REQUIRE_SERVER_MODEL(model);
  server::ServerOptions o;
  o.parallel = 1;
  test::TestServer s(model, o);
  const int port = s.port();
  const std::string body = chat_body("a request cut short", 20, {{"ignore_eos", true}, {"stream", true}}).dump();
  const std::string full = http_request(port, "POST", "/v1/chat/completions", body);
  const size_t head_end = full.find("\r\n\r\n") + 4;
  const double prompts0 = test::metric(port, "qiusuo_prompt_tokens_total");
  struct Cut {
    const char* what;
    std::string sent;
    bool rst;
  };
  const std::vector<Cut> cuts = {
      {"nothing sent", "", false},
      {"half a request line", full.substr(0, 12), false},
      {"half the headers", full.substr(0, head_end / 2), false},
      {"headers, no blank line", full.substr(0, head_end - 2), true},
      {"headers, half the body", full.substr(0, head_end + body.size() / 2), false},
      {"headers, all but one body byte", full.substr(0, full.size() - 1), true},
  };
  for (const auto& cut : cuts) {
    SCOPED_TRACE(cut.what);
    RawConn c(port);
    ASSERT_TRUE(c.ok());
    ASSERT_TRUE(c.send_all(cut.sent));
    std::this_thread::sleep_for(50ms);
    cut.rst ? c.reset() : c.close();
    EXPECT_TRUE(connections_settle(port));
  }
  EXPECT_EQ(test::metric(port, "qiusuo_prompt_tokens_total"), prompts0) << "a cut request reached the engine";
  // Mid-SSE: read the response headers and a few bytes of the event stream, then leave.
  for (size_t keep : {size_t(1), size_t(7), size_t(40)}) {
    SCOPED_TRACE("bytes of the stream read: " + std::to_string(keep));
    RawConn c(port);
    ASSERT_TRUE(c.send_all(full));
    std::string got;
    ASSERT_TRUE(c.read_until("\r\n\r\n", got, 20s));
    const size_t want = got.find("\r\n\r\n") + 4 + keep;
    while (got.size() < want && c.read_some(got, 10s, want - got.size()) > 0) {
    }
    c.close();
    EXPECT_TRUE(wait_until([&] { return test::metric(port, "qiusuo_requests_running") == 0; }, 10s));
  }
  // A client that sends a whole request and goes away before any answer.
  {
    RawConn c(port);
    ASSERT_TRUE(c.send_all(full));
    c.reset();
  }
  expect_recovered(port);
}

// ---------------------------------------------------------------------------------------------
// 2. Slowloris: the request read deadline.

struct SlowClient {
  std::unique_ptr<RawConn> conn;
  std::string payload;  // sent one byte per tick, never completed
  size_t sent = 0;
  SteadyClock::time_point opened;
  double closed_after = -1;  // seconds from opening until the server closed it
};

// Drives slow clients (one byte each per tick) until all are closed by the server or `limit`.
void drive_slow_clients(std::vector<SlowClient>& cs, std::chrono::milliseconds tick, std::chrono::seconds limit) {
  const auto end = SteadyClock::now() + limit;
  while (SteadyClock::now() < end) {
    bool open = false;
    for (auto& c : cs) {
      if (c.closed_after >= 0) continue;
      bool closed = c.conn->peer_closed();
      if (!closed && c.sent < c.payload.size()) closed = !c.conn->send_all(std::string_view(c.payload).substr(c.sent++, 1));
      if (closed) c.closed_after = seconds_since(c.opened);
      else open = true;
    }
    if (!open) return;
    // Tick, but notice a close at once.
    const auto tick_end = SteadyClock::now() + tick;
    while (SteadyClock::now() < tick_end) {
      bool any = false;
      for (auto& c : cs)
        if (c.closed_after < 0) {
          if (c.conn->peer_closed()) c.closed_after = seconds_since(c.opened);
          else any = true;
        }
      if (!any) return;
      std::this_thread::sleep_for(20ms);
    }
  }
}

TEST(ServerFaultSlowloris, SlowHeadersCannotStarveTheThreads) {
  QS_REQUIRE_SERVER_MODEL(model);
  server::ServerOptions o;
  o.http_threads = 4;
  o.request_read_timeout_s = 2;
  test::TestServer s(model, o);
  const int port = s.port();
  const double timeouts0 = test::metric(port, "qiusuo_http_read_timeouts_total");
  // More slow connections than threads: each dribbles an endless header, a byte per 0.5 s.
  const int n = 6;
  std::vector<SlowClient> cs(n);
  std::string header = "GET /health HTTP/1.1\r\nHost: 127.0.0.1:" + std::to_string(port) + "\r\nX-Slow: ";
  header += std::string(400, 'a');
  for (auto& c : cs) {
    c.conn = std::make_unique<RawConn>(port);
    ASSERT_TRUE(c.conn->ok());
    c.payload = header;
    c.opened = SteadyClock::now();
  }
  // Meanwhile an ordinary client asks for /health.
  auto normal = std::async(std::launch::async, [&] {
    std::this_thread::sleep_for(300ms);
    const auto t0 = SteadyClock::now();
    httplib::Client c("127.0.0.1", port);
    c.set_connection_timeout(10, 0);
    c.set_read_timeout(20, 0);
    auto r = c.Get("/health");
    return std::make_pair(r ? r->status : -1, seconds_since(t0));
  });
  drive_slow_clients(cs, 500ms, 20s);
  const auto [status, waited] = normal.get();
  std::vector<double> cut;
  for (const auto& c : cs) cut.push_back(c.closed_after);
  std::sort(cut.begin(), cut.end());
  std::printf("[ faults ] slowloris: %d slow connections, 4 threads, --read-timeout 2: cut after", n);
  for (double t : cut) std::printf(" %.2f", t);
  std::printf(" s; /health answered in %.2f s\n", waited);
  ::testing::Test::RecordProperty("slowloris_first_cut_s", std::to_string(cut.front()));
  ::testing::Test::RecordProperty("slowloris_last_cut_s", std::to_string(cut.back()));
  ::testing::Test::RecordProperty("slowloris_health_s", std::to_string(waited));
  EXPECT_EQ(status, 200);
  EXPECT_LT(waited, 2.0 + 3.0);
  for (double t : cut) EXPECT_GE(t, 0) << "a slow connection was never closed";
  // The first four held the threads: cut at the deadline. The two that waited for a thread get
  // a grace second once they have one.
  EXPECT_LT(cut[3], 2.0 + 1.5);
  EXPECT_LT(cut.back(), 2.0 * 2 + 1.5);
  EXPECT_GE(cut.front(), 1.5) << "cut before the deadline";
  EXPECT_GE(test::metric(port, "qiusuo_http_read_timeouts_total"), timeouts0 + n);
  EXPECT_TRUE(connections_settle(port));
  expect_still_serving(port);
}

TEST(ServerFaultSlowloris, SlowBodyAndSlowNextRequestAreCut) {
  QS_REQUIRE_SERVER_MODEL(model);
  server::ServerOptions o;
  o.http_threads = 4;
  o.request_read_timeout_s = 2;
  test::TestServer s(model, o);
  const int port = s.port();
  const double timeouts0 = test::metric(port, "qiusuo_http_read_timeouts_total");
  const double prompts0 = test::metric(port, "qiusuo_prompt_tokens_total");
  std::vector<SlowClient> cs(2);
  // (a) Complete headers announcing a large body, which then dribbles.
  cs[0].conn = std::make_unique<RawConn>(port);
  cs[0].opened = SteadyClock::now();
  ASSERT_TRUE(cs[0].conn->send_all("POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1:" + std::to_string(port) +
                                   "\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n"));
  cs[0].payload = "{\"messages\": [" + std::string(1000, ' ');
  // (b) A keep-alive connection: one quick request and answer, then the next request dribbles.
  cs[1].conn = std::make_unique<RawConn>(port);
  ASSERT_TRUE(cs[1].conn->send_all(http_request(port, "GET", "/health", "")));
  std::string got;
  ASSERT_TRUE(cs[1].conn->read_until("\"ok\"", got, 10s)) << got;
  cs[1].opened = SteadyClock::now();
  cs[1].payload = http_request(port, "GET", "/health", "", "X-Slow: " + std::string(400, 'b') + "\r\n");
  drive_slow_clients(cs, 500ms, 20s);
  std::printf("[ faults ] slow body cut after %.2f s; slow second request on a keep-alive connection cut after %.2f s\n",
              cs[0].closed_after, cs[1].closed_after);
  for (const auto& c : cs) {
    EXPECT_GE(c.closed_after, 1.5);
    EXPECT_LT(c.closed_after, 2.0 + 1.5);
  }
  EXPECT_GE(test::metric(port, "qiusuo_http_read_timeouts_total"), timeouts0 + 2);
  EXPECT_EQ(test::metric(port, "qiusuo_prompt_tokens_total"), prompts0);
  // A request that is slow but inside the deadline is served: three pieces over ~1 s.
  {
    RawConn c(port);
    const std::string req = http_request(port, "POST", "/v1/chat/completions", chat_body("slow but fine", 3).dump());
    const size_t third = req.size() / 3;
    for (int i = 0; i < 3; ++i) {
      ASSERT_TRUE(c.send_all(req.substr(third * static_cast<size_t>(i), i == 2 ? std::string::npos : third)));
      if (i < 2) std::this_thread::sleep_for(500ms);
    }
    std::string resp;
    EXPECT_TRUE(c.read_until("\"usage\"", resp, 20s)) << resp;
    EXPECT_EQ(resp.rfind("HTTP/1.1 200", 0), 0u) << resp;
  }
  EXPECT_TRUE(connections_settle(port));
  expect_still_serving(port);
}

TEST(ServerFaultSlowloris, ReadTimeoutFlag) {
  QS_REQUIRE_SERVER_MODEL(model);
  std::signal(SIGPIPE, SIG_IGN);
  const test::ShellResult bad =
      test::run_shell(std::string(QIUSUO_CLI_PATH) + " serve -m " + model + " --port 0 --read-timeout 0 2>&1");
  EXPECT_EQ(bad.status, 1) << bad.out;
  EXPECT_NE(bad.out.find("--read-timeout must be at least 1 second"), std::string::npos) << bad.out;
  // `qiusuo serve --read-timeout 1`: a request line that never ends is cut after about a second.
  test::ServeProcess p(model, {"--read-timeout", "1"});
  ASSERT_GT(p.port, 0) << p.first_line;
  ASSERT_TRUE(wait_until([&] { return http_get(p.port, "/health").status == 200; }, 30s));
  std::vector<SlowClient> cs(1);
  cs[0].conn = std::make_unique<RawConn>(p.port);
  cs[0].opened = SteadyClock::now();
  cs[0].payload = "GET /health" + std::string(200, 'x');
  drive_slow_clients(cs, 200ms, 15s);
  std::printf("[ faults ] qiusuo serve --read-timeout 1: slow request line cut after %.2f s\n", cs[0].closed_after);
  EXPECT_GE(cs[0].closed_after, 0.8);
  EXPECT_LT(cs[0].closed_after, 1.0 + 1.5);
  EXPECT_EQ(test::metric(p.port, "qiusuo_http_read_timeouts_total"), 1);
  kill(p.pid, SIGTERM);
  EXPECT_EQ(p.wait_exit(20s), 0);
}

// ---------------------------------------------------------------------------------------------
// 3. A 10x overload burst: every request gets a 200 or a fast 429.

TEST(ServerFaultOverload, TenfoldBurstGets200sOrFast429s) {
  QS_REQUIRE_SERVER_MODEL(model);
  server::ServerOptions o;
  o.parallel = 2;
  o.max_queue = 2;
  test::TestServer s(model, o);
  const int port = s.port();
  const int n = 10 * (o.parallel + o.max_queue);
  const int max_tokens = 24;
  struct Reply {
    int status = -1;
    double secs = 0;
    bool retry_after = false;
    json j;
    std::string error;
  };
  std::vector<Reply> replies(static_cast<size_t>(n));
  std::atomic<int> ready{0};
  std::atomic<bool> go{false};
  std::vector<std::thread> ts;
  for (int i = 0; i < n; ++i) {
    ts.emplace_back([&, i] {
      httplib::Client c("127.0.0.1", port);
      c.set_connection_timeout(10, 0);
      c.set_read_timeout(60, 0);
      const std::string body = chat_body("burst request " + std::to_string(i), max_tokens, {{"ignore_eos", true}}).dump();
      ++ready;
      while (!go.load()) std::this_thread::yield();
      const auto t0 = SteadyClock::now();
      auto res = c.Post("/v1/chat/completions", body, "application/json");
      Reply& r = replies[static_cast<size_t>(i)];
      r.secs = seconds_since(t0);
      if (!res) {
        r.error = httplib::to_string(res.error());
        return;
      }
      r.status = res->status;
      r.retry_after = res->has_header("Retry-After");
      r.j = json::parse(res->body, nullptr, false);
    });
  }
  while (ready.load() < n) std::this_thread::yield();
  go = true;
  for (auto& t : ts) t.join();
  std::vector<double> t200, t429;
  int other = 0;
  for (const auto& r : replies) {
    if (r.status == 200) {
      t200.push_back(r.secs);
      ASSERT_TRUE(r.j.is_object());
      EXPECT_EQ(r.j["choices"][0]["finish_reason"], "length");
      EXPECT_EQ(r.j["usage"]["completion_tokens"], max_tokens);
      EXPECT_FALSE(r.j["choices"][0]["message"]["content"].get<std::string>().empty());
    } else if (r.status == 429) {
      t429.push_back(r.secs);
      EXPECT_TRUE(r.retry_after);
      ASSERT_TRUE(r.j.is_object());
      EXPECT_EQ(r.j["error"]["type"], "rate_limit_error");
    } else {
      ++other;
      ADD_FAILURE() << "status " << r.status << " after " << r.secs << " s " << r.error;
    }
  }
  std::printf("[ faults ] burst of %d (parallel %d, queue %d): %zu x 200 (p50 %s ms, max %s ms), %zu x 429 (p50 %s ms, max %s ms), "
              "%d other\n",
              n, o.parallel, o.max_queue, t200.size(), percentile_ms(t200, 0.5).c_str(), percentile_ms(t200, 1).c_str(), t429.size(),
              percentile_ms(t429, 0.5).c_str(), percentile_ms(t429, 1).c_str(), other);
  ::testing::Test::RecordProperty("burst_429_p50_ms", percentile_ms(t429, 0.5));
  ::testing::Test::RecordProperty("burst_429_max_ms", percentile_ms(t429, 1));
  EXPECT_EQ(other, 0) << "every request must get a 200 or a 429";
  EXPECT_GE(t200.size(), static_cast<size_t>(o.parallel + o.max_queue));
  ASSERT_FALSE(t429.empty());
  // At once: 0.5 s in a normal build. ThreadSanitizer slows every thread ~10x and the generating slots
  // share two cores with the admission path (0.50 s was measured there once), so it gets 2 s — still a
  // small fraction of the seconds each 200 takes.
  EXPECT_LT(*std::max_element(t429.begin(), t429.end()), QS_FAULTS_TSAN ? 2.0 : 0.5) << "a 429 must come at once";
  EXPECT_EQ(metric0(port, "qiusuo_requests_rejected_total{reason=\"queue_full\"}"), static_cast<double>(t429.size()));
  EXPECT_TRUE(scheduler_idle(port));
  EXPECT_TRUE(connections_settle(port));
}

// ---------------------------------------------------------------------------------------------
// 4. SIGTERM under load and while loading (the real `qiusuo serve` process).

// A stream ends either with [DONE] (and a finish_reason) or with an error event.
void expect_clean_end(const test::StreamResult& r) {
  ASSERT_EQ(r.status, 200) << r.raw.substr(0, 300);
  ASSERT_FALSE(r.chunks.empty());
  if (r.done) {
    EXPECT_EQ(r.chunks.back()["choices"][0]["finish_reason"], "length");
  } else {
    ASSERT_TRUE(r.chunks.back().contains("error")) << r.raw.substr(r.raw.size() > 300 ? r.raw.size() - 300 : 0);
    EXPECT_EQ(r.chunks.back()["error"]["code"], "server_shutdown");
  }
}

TEST(ServerFaultSigterm, InFlightStreamsDrainAndNewRequestsAreRefused) {
  QS_REQUIRE_SERVER_MODEL(model);
  std::signal(SIGPIPE, SIG_IGN);
  // A drain long enough for every stream, even in a sanitizer build.
  test::ServeProcess p(model, {"--parallel", "2", "--max-queue", "2", "--drain-timeout", "90"});
  ASSERT_GT(p.port, 0) << p.first_line;
  ASSERT_TRUE(wait_until([&] { return http_get(p.port, "/health").status == 200; }, 30s));
  // Two running, two queued (shorter answers under ThreadSanitizer, which decodes ~30x slower).
  const int tokens = QS_FAULTS_TSAN ? 40 : 120;
  std::atomic<int> chunks{0};
  std::vector<std::future<test::StreamResult>> fs;
  for (int i = 0; i < 4; ++i)
    fs.push_back(std::async(std::launch::async, [&, i] {
      return http_stream(p.port, "/v1/chat/completions",
                         chat_body("drain " + std::to_string(i), tokens, {{"ignore_eos", true}, {"stream", true}}).dump(), [&](const json&) {
                           ++chunks;
                           return true;
                         });
    }));
  ASSERT_TRUE(wait_until([&] { return chunks.load() > 4; }, 30s));
  ASSERT_TRUE(wait_until([&] { return test::metric(p.port, "qiusuo_requests_waiting") == 2; }, 10s));
  const auto t0 = SteadyClock::now();
  ASSERT_EQ(kill(p.pid, SIGTERM), 0);
  // Under ThreadSanitizer, with ctest running another server test beside this one, the first /health
  // after the signal once took over 5 s (it passed alone in ~17 s of test, three times out of three).
  ASSERT_TRUE(wait_until([&] { return http_get(p.port, "/health").status == 503; }, QS_FAULTS_TSAN ? 15s : 5s));
  auto late = http_post(p.port, "/v1/chat/completions", chat_body("too late", 2).dump());
  EXPECT_TRUE(late.status == 503 || late.status == -1) << late.status;
  for (auto& f : fs) {
    if (f.wait_for(120s) != std::future_status::ready) {
      kill(p.pid, SIGKILL);
      FAIL() << "a stream hung after SIGTERM";
    }
    const auto r = f.get();
    EXPECT_TRUE(r.done) << "the drain is long enough for every stream";
    expect_clean_end(r);
  }
  const int code = p.wait_exit(30s);
  std::printf("[ faults ] SIGTERM with 4 streams: drained and exited %d after %.2f s\n", code, seconds_since(t0));
  EXPECT_EQ(code, 0);
  EXPECT_EQ(http_get(p.port, "/health").status, -1) << "nothing listens any more";
}

TEST(ServerFaultSigterm, DrainTimeoutEndsStreamsWithAnErrorEvent) {
  QS_REQUIRE_SERVER_MODEL(model);
  std::signal(SIGPIPE, SIG_IGN);
  test::ServeProcess p(model, {"--parallel", "1", "--max-queue", "2", "--drain-timeout", "1"});
  ASSERT_GT(p.port, 0) << p.first_line;
  ASSERT_TRUE(wait_until([&] { return http_get(p.port, "/health").status == 200; }, 30s));
  std::atomic<int> chunks{0};
  std::vector<std::future<test::StreamResult>> fs;
  for (int i = 0; i < 3; ++i)
    fs.push_back(std::async(std::launch::async, [&, i] {
      return http_stream(p.port, "/v1/chat/completions",
                         chat_body("never done " + std::to_string(i), 900, {{"ignore_eos", true}, {"stream", true}}).dump(),
                         [&](const json&) {
                           ++chunks;
                           return true;
                         });
    }));
  ASSERT_TRUE(wait_until([&] { return chunks.load() > 5; }, 20s));
  ASSERT_TRUE(wait_until([&] { return test::metric(p.port, "qiusuo_requests_waiting") == 2; }, 10s));
  const auto t0 = SteadyClock::now();
  ASSERT_EQ(kill(p.pid, SIGTERM), 0);
  int errors = 0;
  for (auto& f : fs) {
    if (f.wait_for(30s) != std::future_status::ready) {
      kill(p.pid, SIGKILL);
      FAIL() << "a stream hung after SIGTERM";
    }
    const auto r = f.get();
    expect_clean_end(r);
    errors += r.done ? 0 : 1;
  }
  const double streams_s = seconds_since(t0);
  const int code = p.wait_exit(20s);
  std::printf("[ faults ] SIGTERM, --drain-timeout 1: %d of 3 streams ended with an error event after %.2f s; exit %d after %.2f s\n",
              errors, streams_s, code, seconds_since(t0));
  EXPECT_GE(errors, 2) << "the queued requests cannot have finished within the drain";
  EXPECT_EQ(code, 0);
}

TEST(ServerFaultSigterm, WhileLoadingExitsCleanly) {
  QS_REQUIRE_SERVER_MODEL(model);
  std::signal(SIGPIPE, SIG_IGN);
  for (int round = 0; round < 2; ++round) {
    test::ServeProcess p(model);
    ASSERT_GT(p.port, 0) << p.first_line;
    // The listening line comes before the model loads; round 0 signals at once, round 1 after
    // seeing /health say "loading" (when loading is still under way).
    bool saw_loading = false;
    if (round == 1) {
      auto h = http_get(p.port, "/health");
      saw_loading = h.status == 503 && h.j.is_object() && h.j["status"] == "loading";
    }
    const auto t0 = SteadyClock::now();
    ASSERT_EQ(kill(p.pid, SIGTERM), 0);
    const int code = p.wait_exit(60s);
    std::printf("[ faults ] SIGTERM %s: exit %d after %.2f s\n",
                round == 0 ? "right after the listening line" : (saw_loading ? "while /health said loading" : "after loading"), code,
                seconds_since(t0));
    EXPECT_EQ(code, 0) << "a clean exit, not a crash (128 + signal) or a hang (-1)";
  }
}

// ---------------------------------------------------------------------------------------------
// 5. Soak: mixed traffic for QIUSUO_SOAK_SECONDS (60), bounded memory.

// Resident memory from /proc/self/status, KiB: VmRSS = RssAnon (heap, stacks, KV caches) +
// RssFile (pages of mapped files: the model, mapped read-only) + RssShmem.
struct Rss {
  long total = -1, anon = -1, file = -1;
};
Rss rss_now() {
  std::ifstream in("/proc/self/status");
  std::string line;
  Rss r;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) r.total = std::atol(line.c_str() + 6);
    if (line.rfind("RssAnon:", 0) == 0) r.anon = std::atol(line.c_str() + 8);
    if (line.rfind("RssFile:", 0) == 0) r.file = std::atol(line.c_str() + 8);
  }
  return r;
}

class Outcomes {
 public:
  void add(const std::string& k, const std::string& detail = "") {
    std::lock_guard<std::mutex> lk(mu_);
    ++n_[k];
    if (k == "UNEXPECTED" && samples_.size() < 5) samples_.push_back(detail.substr(0, 300));
  }
  std::map<std::string, int> counts() const {
    std::lock_guard<std::mutex> lk(mu_);
    return n_;
  }
  std::vector<std::string> samples() const {
    std::lock_guard<std::mutex> lk(mu_);
    return samples_;
  }
  int total() const {
    std::lock_guard<std::mutex> lk(mu_);
    int t = 0;
    for (const auto& [k, v] : n_) t += v;
    return t;
  }

 private:
  mutable std::mutex mu_;
  std::map<std::string, int> n_;
  std::vector<std::string> samples_;
};

// One request of the mix; every outcome is either an expected success or a clean error.
void soak_one(int port, std::mt19937& rng, Outcomes& out) {
  static const char* kTopics[] = {"the sea", "a cat", "prime numbers", "rain", "a long journey", "bread"};
  const std::string topic = kTopics[rng() % 6];
  const int max_tokens = 4 + static_cast<int>(rng() % 12);
  switch (rng() % 9) {
    case 0:
    case 1: {  // streamed chat
      const json body = chat_body("Tell me about " + topic, max_tokens, {{"stream", true}, {"stream_options", {{"include_usage", true}}}});
      auto r = http_stream(port, "/v1/chat/completions", body.dump());
      if (r.status == 429) out.add("429 busy");
      else if (r.status == 200 && r.done && !r.chunks.empty() && r.chunks.back()["usage"].is_object()) out.add("chat stream ok");
      else out.add("UNEXPECTED", "stream: " + std::to_string(r.status) + " " + r.raw);
      break;
    }
    case 2:
    case 3: {  // chat
      auto r = http_post(port, "/v1/chat/completions", chat_body("Explain " + topic, max_tokens).dump());
      if (r.status == 429) out.add("429 busy");
      else if (r.status == 200 && r.j.is_object() && r.j["choices"][0]["message"]["content"].is_string()) out.add("chat ok");
      else out.add("UNEXPECTED", "chat: " + std::to_string(r.status) + " " + r.body);
      break;
    }
    case 4: {  // completion, streamed or not
      const bool stream = rng() % 2;
      const std::string body = json{{"prompt", "Once upon a time, " + topic}, {"max_tokens", max_tokens}, {"stream", stream}}.dump();
      if (stream) {
        auto r = http_stream(port, "/v1/completions", body);
        if (r.status == 429) out.add("429 busy");
        else if (r.status == 200 && r.done) out.add("completion stream ok");
        else out.add("UNEXPECTED", "completion stream: " + std::to_string(r.status) + " " + r.raw);
      } else {
        auto r = http_post(port, "/v1/completions", body);
        if (r.status == 429) out.add("429 busy");
        else if (r.status == 200 && r.j.is_object() && r.j["choices"][0]["text"].is_string()) out.add("completion ok");
        else out.add("UNEXPECTED", "completion: " + std::to_string(r.status) + " " + r.body);
      }
      break;
    }
    case 5: {  // the client leaves mid-stream
      int seen = 0;
      const int leave_after = 1 + static_cast<int>(rng() % 4);
      const json body = chat_body("Go on about " + topic, 200, {{"ignore_eos", true}, {"stream", true}});
      auto r = http_stream(port, "/v1/chat/completions", body.dump(), [&](const json&) { return ++seen < leave_after; });
      if (r.status == 429) out.add("429 busy");
      else if (r.status == 200 && !r.done) out.add("disconnected mid-stream");
      else out.add("UNEXPECTED", "disconnect: " + std::to_string(r.status) + " " + r.raw);
      break;
    }
    case 6: {  // invalid JSON
      static const char* kBad[] = {"{not json", "", "[1, 2", "{\"messages\": [{\"role\": \"user\", \"content\": \"hi\"}", "\xff\xfe"};
      auto r = http_post(port, "/v1/chat/completions", kBad[rng() % 5]);
      if (r.status == 400 && r.j.is_object() && r.j.contains("error")) out.add("400 invalid json");
      else out.add("UNEXPECTED", "invalid json: " + std::to_string(r.status) + " " + r.body);
      break;
    }
    case 7: {  // oversize body (the soak server takes 64 KiB)
      auto r = http_post(port, "/v1/chat/completions", chat_body(std::string(80 * 1024 + rng() % 4096, 'x'), 4).dump());
      if (r.status == 413) out.add("413 too large");
      else out.add("UNEXPECTED", "oversize: " + std::to_string(r.status) + " " + r.body);
      break;
    }
    default: {  // half a request, then the client leaves
      RawConn c(port);
      const std::string req = http_request(port, "POST", "/v1/chat/completions", chat_body("cut " + topic, 4).dump());
      if (c.ok() && c.send_all(req.substr(0, 1 + rng() % (req.size() - 1)))) out.add("half request, client left");
      else out.add("UNEXPECTED", "half request: cannot connect");
      rng() % 2 ? c.reset() : c.close();
      break;
    }
  }
}

TEST(ServerFaultSoak, MixedTrafficStaysHealthyAndMemoryBounded) {
  QS_REQUIRE_SERVER_MODEL(model);
  const char* env = std::getenv("QIUSUO_SOAK_SECONDS");
  const int soak_s = env && std::atoi(env) > 0 ? std::atoi(env) : 60;
  const int warm_s = std::max(5, soak_s / 5);
  server::ServerOptions o;
  o.parallel = 2;
  o.max_queue = 4;
  o.max_body_bytes = 64 * 1024;
  o.cache_mib = 4;  // the prefix store fills during the warm-up, then stays at its bound
  test::TestServer s(model, o);
  const int port = s.port();
  Outcomes warm, soak;
  auto run_phase = [&](int secs, Outcomes& out) {
    const auto end = SteadyClock::now() + std::chrono::seconds(secs);
    std::vector<std::thread> clients;
    for (int c = 0; c < 4; ++c)
      clients.emplace_back([&, c] {
        std::mt19937 rng(1234u + static_cast<unsigned>(c) * 7919u + static_cast<unsigned>(secs));
        while (SteadyClock::now() < end) soak_one(port, rng, out);
      });
    for (auto& t : clients) t.join();
  };
  run_phase(warm_s, warm);
  ASSERT_TRUE(scheduler_idle(port));
  const Rss before = rss_now();
  const auto t0 = SteadyClock::now();
  run_phase(soak_s, soak);
  const double took = seconds_since(t0);
  EXPECT_TRUE(scheduler_idle(port));
  EXPECT_TRUE(connections_settle(port));
  const Rss after = rss_now();
  std::printf("[ faults ] soak: %d s warm-up (%d requests), then %d requests in %.1f s by 4 clients:\n", warm_s, warm.total(),
              soak.total(), took);
  for (const auto& [k, v] : soak.counts()) std::printf("[ faults ]   %6d  %s\n", v, k.c_str());
  auto mib = [](long kib) { return static_cast<double>(kib) / 1024.0; };
  std::printf("[ faults ] soak RSS after the warm-up / after the soak: VmRSS %.1f / %.1f MiB, anonymous %.1f / %.1f MiB, "
              "file-backed (the mapped model) %.1f / %.1f MiB%s\n",
              mib(before.total), mib(after.total), mib(before.anon), mib(after.anon), mib(before.file), mib(after.file),
              QS_FAULTS_ASAN ? " [AddressSanitizer build]" : QS_FAULTS_TSAN ? " [ThreadSanitizer build]" : "");
  ::testing::Test::RecordProperty("soak_requests", soak.total());
  ::testing::Test::RecordProperty("soak_rss_kib", std::to_string(before.total) + " -> " + std::to_string(after.total));
  ::testing::Test::RecordProperty("soak_rss_anon_kib", std::to_string(before.anon) + " -> " + std::to_string(after.anon));
  const auto counts = soak.counts();
  EXPECT_EQ(counts.count("UNEXPECTED"), 0u) << "every request completes or gets a clean error";
  for (const auto& d : soak.samples()) ADD_FAILURE() << d;
  EXPECT_EQ(warm.counts().count("UNEXPECTED"), 0u);
  EXPECT_GE(soak.total(), 10) << "the soak made progress";
  expect_still_serving(port);
  // Memory. The model file is mapped: as generation meets tokens not seen before, their rows of
  // the embedding table become resident, so file-backed RSS creeps up towards the file's size
  // (about +20 MiB over a 60 s soak here; reclaimable page cache, not a leak). What a leak or an
  // unbounded structure would grow is anonymous memory: that has the bound, 10% + 32 MiB.
  // Under AddressSanitizer freed memory sits in its quarantine (256 MiB by default) and shadow
  // pages stay mapped, so anonymous RSS grows for reasons other than a leak (LeakSanitizer checks
  // leaks at exit there); ThreadSanitizer's shadow and history memory grow too: only a loose
  // bound applies in those builds.
  ASSERT_GT(before.anon, 0);
  const bool sanitized = QS_FAULTS_ASAN || QS_FAULTS_TSAN;
  const long bound = sanitized ? before.anon * 2 + 512 * 1024 : before.anon + before.anon / 10 + 32 * 1024;
  EXPECT_LE(after.anon, bound) << "anonymous RSS grew from " << before.anon << " KiB to " << after.anon << " KiB during the soak";
  EXPECT_LE(after.file - before.file, static_cast<long>(std::filesystem::file_size(model) / 1024)) << "file-backed RSS beyond the model";
}

}  // namespace
}  // namespace qs
