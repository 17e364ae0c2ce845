#include "server/http_server.h"

#include <httplib.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <optional>

#include "server/http_types.h"
#include "server/routes.h"
#include "server/routes_openai.h"

namespace qs::server {

namespace {

using SteadyClock = std::chrono::steady_clock;

// When the pool queued the job this thread runs: for a connection, the time it was accepted.
thread_local SteadyClock::time_point t_job_queued_at{};

// Set by a rejection before the body was read (framing, access): the connection's loop then closes it
// after the response instead of reading the unread body as the next request.
thread_local bool t_close_after_response = false;

// Closes after a response sent before the request's body was read: stop sending, then read and drop
// what the client still sends for a moment (bounded), so that the close does not reset the connection
// while the response may still be unread on the client's side.
void lingering_close(int sock) {
  ::shutdown(sock, SHUT_WR);
  const auto until = SteadyClock::now() + std::chrono::milliseconds(500);
  size_t drained = 0;
  char buf[16384];
  while (drained < (size_t{1} << 20) && SteadyClock::now() < until) {
    pollfd p{sock, POLLIN, 0};
    if (::poll(&p, 1, 50) <= 0) continue;
    const ssize_t n = ::recv(sock, buf, sizeof buf, 0);
    if (n <= 0) break;
    drained += static_cast<size_t>(n);
  }
}

// httplib's own pool has a fixed size and an unbounded job list; this one starts threads as
// connections need them, up to a cap (each open connection holds a thread while it lives).
class ElasticPool : public httplib::TaskQueue {
 public:
  explicit ElasticPool(size_t max_threads) : max_(std::max<size_t>(max_threads, 4)) {}
  ~ElasticPool() override { shutdown(); }

  void enqueue(std::function<void()> fn) override {
    {
      std::lock_guard<std::mutex> lk(mu_);
      jobs_.push_back(Job{std::move(fn), SteadyClock::now()});
      if (idle_ < jobs_.size() && threads_.size() < max_) threads_.emplace_back([this] { work(); });
    }
    cv_.notify_one();
  }

  void shutdown() override {
    {
      std::lock_guard<std::mutex> lk(mu_);
      if (shut_) return;
      shut_ = true;
    }
    cv_.notify_all();
    for (auto& t : threads_)
      if (t.joinable()) t.join();
  }

 private:
  struct Job {
    std::function<void()> fn;
    SteadyClock::time_point queued;
  };

  void work() {
    for (;;) {
      Job job;
      {
        std::unique_lock<std::mutex> lk(mu_);
        ++idle_;
        cv_.wait(lk, [&] { return shut_ || !jobs_.empty(); });
        --idle_;
        if (jobs_.empty()) return;  // shut down
        job = std::move(jobs_.front());
        jobs_.pop_front();
      }
      t_job_queued_at = job.queued;
      try {
        job.fn();
      } catch (...) {
      }
      t_job_queued_at = {};
    }
  }

  size_t max_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Job> jobs_;
  std::vector<std::thread> threads_;
  size_t idle_ = 0;
  bool shut_ = false;
};

// One connection's socket as cpp-httplib's Stream -- what its SocketStream does (buffered reads,
// a timeout per read and per write, a liveness check before each write) plus a deadline for
// reading a request. httplib's read timeout is per recv(), so a client dribbling a byte every few
// seconds holds a pool thread for as long as it likes, and enough of them starve every other
// client (slowloris). Here a request's line, headers and body must all arrive by the deadline:
// --read-timeout after the connection was accepted, and on a keep-alive connection after the
// previous response was written. The server reads the socket only while it reads a request
// (handlers never do), so the deadline bounds exactly that phase; generation and streaming are
// not affected. A read past the deadline fails and the connection is closed without a response.
// Each wait is also cut into short polls that notice the server stopping, so shutdown does not
// wait for idle keep-alive or half-sent requests.
class ConnStream final : public httplib::Stream {
 public:
  ConnStream(int sock, const std::atomic<socket_t>& listener, SteadyClock::duration read_timeout,
             SteadyClock::duration write_timeout, SteadyClock::time_point deadline, Metrics& metrics)
      : sock_(sock), listener_(listener), read_timeout_(read_timeout), write_timeout_(write_timeout), deadline_(deadline),
        metrics_(metrics) {}

  // The next request on this connection must arrive within `timeout` from now.
  void next_request(SteadyClock::duration timeout) { deadline_ = SteadyClock::now() + timeout; }

  // Waits for the first byte of a request, up to the keep-alive timeout: false when the peer
  // closed, nothing came, the deadline passed or the server stops.
  bool wait_for_request(SteadyClock::duration keep_alive) {
    if (dead_) return false;
    if (off_ < len_) return true;
    return wait_readable(std::min(SteadyClock::now() + keep_alive, deadline_), /*count_timeout=*/false) > 0;
  }

  bool is_readable() const override { return off_ < len_ || wait_readable(read_until(), true) > 0; }

  bool is_writable() const override {
    if (dead_) return false;
    const auto until = SteadyClock::now() + write_timeout_;
    for (;;) {
      pollfd p{sock_, POLLOUT, 0};
      const int r = ::poll(&p, 1, poll_ms(until, write_timeout_));
      if (r > 0) break;
      if (r == 0 || errno != EINTR || SteadyClock::now() >= until) return false;
    }
    return peer_alive();
  }

  ssize_t read(char* ptr, size_t size) override {
    if (dead_) return -1;
    if (off_ < len_) {
      const size_t n = std::min(size, len_ - off_);
      std::memcpy(ptr, buf_.data() + off_, n);
      off_ += n;
      return static_cast<ssize_t>(n);
    }
    if (wait_readable(read_until(), true) <= 0) return -1;
    off_ = len_ = 0;
    if (size >= buf_.size()) return recv_some(ptr, size);
    const ssize_t n = recv_some(buf_.data(), buf_.size());
    if (n <= 0) return n;
    const size_t k = std::min(size, static_cast<size_t>(n));
    std::memcpy(ptr, buf_.data(), k);
    off_ = k;
    len_ = static_cast<size_t>(n);
    return static_cast<ssize_t>(k);
  }

  ssize_t write(const char* ptr, size_t size) override {
    if (!is_writable()) return -1;
    ssize_t n;
    do n = ::send(sock_, ptr, size, MSG_NOSIGNAL);
    while (n < 0 && errno == EINTR);
    return n;
  }

  void get_remote_ip_and_port(std::string& ip, int& port) const override {
    sockaddr_storage a{};
    socklen_t len = sizeof a;
    if (::getpeername(sock_, reinterpret_cast<sockaddr*>(&a), &len) == 0) ip_and_port(a, len, ip, port);
  }
  void get_local_ip_and_port(std::string& ip, int& port) const override {
    sockaddr_storage a{};
    socklen_t len = sizeof a;
    if (::getsockname(sock_, reinterpret_cast<sockaddr*>(&a), &len) == 0) ip_and_port(a, len, ip, port);
  }
  socket_t socket() const override { return sock_; }

 private:
  static constexpr int kStopPollMs = 100;  // how often a waiting connection checks for shutdown

  static int poll_ms(SteadyClock::time_point until, SteadyClock::duration cap) {
    const auto left = std::chrono::ceil<std::chrono::milliseconds>(std::min(until - SteadyClock::now(), cap));
    return static_cast<int>(std::max<int64_t>(left.count(), 0));
  }

  static void ip_and_port(const sockaddr_storage& a, socklen_t len, std::string& ip, int& port) {
    if (a.ss_family == AF_INET) {
      sockaddr_in in;
      std::memcpy(&in, &a, sizeof in);
      port = ntohs(in.sin_port);
    } else if (a.ss_family == AF_INET6) {
      sockaddr_in6 in6;
      std::memcpy(&in6, &a, sizeof in6);
      port = ntohs(in6.sin6_port);
    } else {
      return;
    }
    std::array<char, NI_MAXHOST> host{};
    if (::getnameinfo(reinterpret_cast<const sockaddr*>(&a), len, host.data(), static_cast<socklen_t>(host.size()), nullptr, 0,
                      NI_NUMERICHOST) == 0)
      ip = host.data();
  }

  SteadyClock::time_point read_until() const { return std::min(SteadyClock::now() + read_timeout_, deadline_); }

  // 1: readable (data, or the peer closed: recv tells which); 0: timed out, past the deadline or
  // the server stops (the connection is then finished); -1: error.
  int wait_readable(SteadyClock::time_point until, bool count_timeout) const {
    for (;;) {
      if (listener_.load() == INVALID_SOCKET) {
        dead_ = true;  // shutting down: no response to a half-read request
        return 0;
      }
      const auto now = SteadyClock::now();
      if (now >= until) {
        if (now >= deadline_) {
          if (count_timeout && !dead_) ++metrics_.http_read_timeouts;
          dead_ = true;
        }
        return 0;
      }
      pollfd p{sock_, POLLIN, 0};
      const int r = ::poll(&p, 1, poll_ms(until, std::chrono::milliseconds(kStopPollMs)));
      if (r > 0) return 1;
      if (r < 0 && errno != EINTR) return -1;
    }
  }

  ssize_t recv_some(char* ptr, size_t size) {
    ssize_t n;
    do n = ::recv(sock_, ptr, size, 0);
    while (n < 0 && errno == EINTR);
    return n;
  }

  // Whether the peer is still there (as httplib checks before each write): not readable, or
  // readable with data rather than end-of-stream.
  bool peer_alive() const {
    pollfd p{sock_, POLLIN, 0};
    int r;
    do r = ::poll(&p, 1, 0);
    while (r < 0 && errno == EINTR);
    if (r == 0) return true;
    if (r < 0) return false;
    char c;
    ssize_t n;
    do n = ::recv(sock_, &c, 1, MSG_PEEK);
    while (n < 0 && errno == EINTR);
    return n > 0;
  }

  int sock_;
  const std::atomic<socket_t>& listener_;
  SteadyClock::duration read_timeout_, write_timeout_;
  SteadyClock::time_point deadline_;
  Metrics& metrics_;
  mutable bool dead_ = false;  // the deadline passed or the server stops: every read and write fails
  std::array<char, 4096> buf_{};
  size_t off_ = 0, len_ = 0;
};

// httplib's Server with its connection loop (process_and_close_socket: private in httplib, so it
// cannot be wrapped, only replaced) running over ConnStream. The loop is httplib's: up to
// keep_alive_max_count requests, each waiting at most keep_alive_timeout for its first byte.
class DeadlineServer final : public httplib::Server {
 public:
  DeadlineServer(std::chrono::seconds request_timeout, Metrics& metrics) : request_timeout_(request_timeout), metrics_(metrics) {}

  // httplib listens with a backlog of 5 (CPPHTTPLIB_LISTEN_BACKLOG, compiled into Debian's
  // library): a burst of connections beyond that overflows the accept queue, the kernel drops
  // their handshakes and the clients retry a second later -- or fail -- instead of getting an
  // immediate answer (429 when busy). listen() again on the bound socket raises the backlog.
  void widen_backlog() {
    const socket_t s = svr_sock_.load();
    if (s != INVALID_SOCKET) ::listen(s, SOMAXCONN);
  }

 private:
  bool process_and_close_socket(socket_t sock) override {
    const auto now = SteadyClock::now();
    const auto accepted = t_job_queued_at == SteadyClock::time_point{} ? now : t_job_queued_at;
    // A connection that waited for a thread (all busy) gets the rest of its time since accept,
    // but at least a grace period: it may have sent its whole request meanwhile, and a slow
    // flood queued behind busy threads is then cleared a grace period at a time.
    const auto grace = std::clamp<SteadyClock::duration>(request_timeout_ / 4, std::chrono::seconds(1), request_timeout_);
    ConnStream strm(sock, svr_sock_, std::chrono::seconds(read_timeout_sec_) + std::chrono::microseconds(read_timeout_usec_),
                    std::chrono::seconds(write_timeout_sec_) + std::chrono::microseconds(write_timeout_usec_),
                    std::max(accepted + request_timeout_, now + grace), metrics_);
    struct Closer {
      socket_t sock;
      Metrics& m;
      ~Closer() {
        --m.http_connections;
        ::shutdown(sock, SHUT_RDWR);
        ::close(sock);
      }
    } closer{sock, metrics_};
    ++metrics_.http_connections;
    bool ret = false;
    for (size_t left = keep_alive_max_count_; left > 0 && svr_sock_.load() != INVALID_SOCKET; --left) {
      if (!strm.wait_for_request(std::chrono::seconds(keep_alive_timeout_sec_))) break;
      bool connection_closed = false;
      t_close_after_response = false;
      ret = process_request(strm, /*close_connection=*/left == 1, connection_closed, nullptr);
      if (t_close_after_response) {
        t_close_after_response = false;
        lingering_close(sock);
        break;
      }
      if (!ret || connection_closed) break;
      strm.next_request(request_timeout_);
    }
    return ret;
  }

  SteadyClock::duration request_timeout_;
  Metrics& metrics_;
};

// The library's request as the routes see it.
HttpRequest to_request(const httplib::Request& req) {
  HttpRequest r;
  r.method = req.method;
  r.path = req.path;
  r.body = req.body;
  r.remote_addr = req.remote_addr;
  for (const auto& [k, v] : req.headers) r.headers.emplace_back(k, v);
  return r;
}

class SinkWriter final : public BodyWriter {
 public:
  explicit SinkWriter(httplib::DataSink& sink) : sink_(sink) {}
  bool write(std::string_view d) override { return sink_.write(d.data(), d.size()); }
  bool writable() const override { return sink_.is_writable(); }

 private:
  httplib::DataSink& sink_;
};

// A route's response into the library's: a whole body, or a chunked one the route's stream writes.
void apply(HttpResponse from, httplib::Response& to) {
  to.status = from.status;
  for (auto& [k, v] : from.headers) to.set_header(k, v);
  if (!from.stream) return to.set_content(std::move(from.body), from.content_type);
  to.set_chunked_content_provider(
      from.content_type,
      [stream = std::move(from.stream)](size_t, httplib::DataSink& sink) {
        SinkWriter w(sink);
        if (!stream(w)) return false;
        sink.done();
        return true;
      },
      [on_close = std::move(from.on_close)](bool completed) {
        if (on_close) on_close(completed);
      });
}

}  // namespace

HttpServer::HttpServer(ServerOptions opt) {
  ctx_.opt = std::move(opt);
  ctx_.loopback = is_loopback_host(ctx_.opt.host);
  if (ctx_.opt.parallel < 1) throw std::invalid_argument("--parallel must be at least 1");
  if (ctx_.opt.max_queue < 0) throw std::invalid_argument("--max-queue must be >= 0");
  if (ctx_.opt.timeout_s < 1) throw std::invalid_argument("--timeout must be at least 1 second");
  if (ctx_.opt.request_read_timeout_s < 1) throw std::invalid_argument("--read-timeout must be at least 1 second");
  if (ctx_.opt.step_tokens < 1 || ctx_.opt.step_tokens > 4 * Model::kMaxBatchTokens)
    throw std::invalid_argument("--batch-tokens must be between 1 and " + std::to_string(4 * Model::kMaxBatchTokens));
  if (ctx_.opt.ctx_size > (1 << 20)) throw std::invalid_argument("--ctx-size may be at most 1048576");
  http_ = std::make_unique<DeadlineServer>(std::chrono::seconds(ctx_.opt.request_read_timeout_s), ctx_.metrics);
  setup_routes();
}

HttpServer::~HttpServer() {
  try {
    shutdown(std::chrono::milliseconds(0));
  } catch (...) {
  }
}

void HttpServer::setup_routes() {
  httplib::Server& s = *http_;
  ServerContext& ctx = ctx_;
  const size_t threads = ctx.opt.http_threads > 0 ? static_cast<size_t>(ctx.opt.http_threads)
                                                  : static_cast<size_t>(ctx.opt.parallel + ctx.opt.max_queue + 16);
  s.new_task_queue = [threads] { return new ElasticPool(threads); };
  s.set_payload_max_length(ctx.opt.max_body_bytes);
  s.set_read_timeout(30, 0);
  s.set_write_timeout(30, 0);
  s.set_keep_alive_timeout(5);
  s.set_keep_alive_max_count(100);
  s.set_tcp_nodelay(true);

  // Host check (DNS rebinding) and API keys, before the body is read.
  s.set_pre_routing_handler([&ctx](const httplib::Request& req, httplib::Response& res) {
    const HttpRequest head = to_request(req);
    std::optional<ApiError> denied = check_framing(head, ctx.opt.max_body_bytes);
    if (!denied) denied = check_access(ctx, head);
    if (!denied) return httplib::Server::HandlerResponse::Unhandled;
    HttpResponse out;
    send_error(out, *denied);
    out.set_header("Connection", "close");
    apply(std::move(out), res);
    t_close_after_response = true;
    ctx.metrics.http_responses.inc(std::to_string(denied->status()));
    return httplib::Server::HandlerResponse::Handled;
  });

  // Which methods each path answers, for 405s (a GET to a POST route is not a missing route).
  auto allowed = std::make_shared<std::map<std::string, std::string>>();
  const std::vector<Route> routes = api_routes(ctx);
  for (const Route& r : routes) {
    std::string& m = (*allowed)[r.path];
    m += (m.empty() ? "" : ", ") + r.method;
  }
  // Error responses without a body (404 from routing, 413 from the body limit, ...) get one.
  s.set_error_handler([allowed](const httplib::Request& req, httplib::Response& res) {
    if (res.status == 404)
      if (auto it = allowed->find(req.path); it != allowed->end()) {
        res.status = 405;
        res.set_header("Allow", it->second);
      }
    if (res.body.empty()) res.set_content(error_body(res.status, to_request(req)), "application/json");
  });
  s.set_exception_handler([](const httplib::Request&, httplib::Response& res, std::exception_ptr) {
    res.status = 500;
    res.set_content(dump_json(error_json(500, "internal error")), "application/json");
  });
  s.set_logger([&ctx](const httplib::Request& req, const httplib::Response& res) {
    ctx.metrics.http_responses.inc(std::to_string(res.status));
    if (!ctx.opt.quiet) std::fprintf(stderr, "serve: %s %s -> %d\n", req.method.c_str(), req.path.c_str(), res.status);
  });

  for (const Route& r : routes) {
    auto handler = [h = r.handler](const httplib::Request& req, httplib::Response& res) {
      HttpResponse out;
      run_guarded(h, to_request(req), out);
      apply(std::move(out), res);
    };
    if (r.method == "GET") s.Get(r.path, handler);
    else s.Post(r.path, handler);
  }
}

int HttpServer::start() {
  int port = ctx_.opt.port;
  if (port < 0 || port > 65535) throw std::invalid_argument("--port must be in 0..65535");
  // SO_REUSEADDR only (httplib's default adds SO_REUSEPORT, which let a second server bind a busy port
  // and take half of its connections).
  http_->set_socket_options([](socket_t sock) {
    int yes = 1;
    ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
  });
  if (port == 0) {
    port = http_->bind_to_any_port(ctx_.opt.host);
    if (port <= 0) throw std::runtime_error("cannot bind " + ctx_.opt.host + " (ephemeral port)");
  } else if (!http_->bind_to_port(ctx_.opt.host, port)) {
    throw std::runtime_error("cannot bind " + ctx_.opt.host + ":" + std::to_string(port) + " (is port " + std::to_string(port) +
                             " already in use by another server?)");
  }
  ctx_.port = port;
  static_cast<DeadlineServer&>(*http_).widen_backlog();
  listener_done_ = false;
  listener_ = std::thread([this] {
    http_->listen_after_bind();
    listener_done_ = true;
  });
  // httplib's stop() does nothing until the listener thread has marked the server running, so a
  // shutdown right after start() would leave listen_after_bind() running and wait() / join()
  // hanging forever: return only once it runs.
  while (!http_->is_running() && !listener_done_) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  return port;
}

void HttpServer::load_model() {
  try {
    load_model_into(ctx_);
    ctx_.state = ServerState::Ready;
  } catch (const std::exception& e) {
    ctx_.load_error = e.what();
    ctx_.state = ServerState::Failed;
    throw;
  }
}

void HttpServer::attach_model(std::unique_ptr<Model> m) {
  server::attach_model(ctx_, std::move(m));
  ctx_.state = ServerState::Ready;
}

void HttpServer::shutdown(std::chrono::milliseconds drain_timeout) {
  if (stopped_) return;
  stopped_ = true;
  if (ctx_.state == ServerState::Ready) ctx_.state = ServerState::Draining;
  if (ctx_.sched) {
    ctx_.sched->begin_drain();
    if (drain_timeout.count() > 0) ctx_.sched->wait_idle(drain_timeout);
    ctx_.sched->stop();  // what is left gets an error event
  }
  // Let the responses write their last events before the listener goes away (bounded).
  for (int i = 0; i < 300 && ctx_.open_responses.load() > 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  if (http_) http_->stop();
  if (listener_.joinable()) listener_.join();
}

void HttpServer::wait() {
  if (listener_.joinable()) listener_.join();
}

}  // namespace qs::server
