// Fuzzes the HTTP boundary end to end: each input is sent as raw bytes over loopback to a live
// in-process `qiusuo serve` (cpp-httplib's request parser, our pre-routing checks, routing, body
// validation, generation and SSE writing on a tiny synthetic model), then the reply is read until the
// server closes or goes quiet. A crash or sanitizer report in any server thread is a finding, and so is a server that stops
// answering /health. Inputs are whole requests ("POST /v1/chat/completions HTTP/1.1\r\n..."), with
// "$PORT" standing for the server's port (the loopback Host check wants it).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>

#include "model/model.h"
#include "synth/synth.h"
#include "server/http_server.h"

namespace {

int g_port = 0;

int connect_loopback() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  timeval tv{5, 0};  // generous: generation on the tiny model takes milliseconds
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(g_port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

// Sends bytes, half-closes, reads the reply to its end; returns the reply (capped).
std::string exchange(const uint8_t* data, size_t size) {
  const int fd = connect_loopback();
  if (fd < 0) return "";
  for (size_t off = 0; off < size;) {
    const ssize_t n = send(fd, data + off, size - off, MSG_NOSIGNAL);
    if (n <= 0) break;
    off += static_cast<size_t>(n);
  }
  // No half-close: the server (like httplib) treats a peer that sent EOF as gone and writes nothing.
  // Read until the server closes, or it has been quiet for a while (keep-alive, or an incomplete
  // request it is still waiting on: the read deadline below cuts those server-side).
  std::string reply;
  char buf[16384];
  while (reply.size() < (1u << 20)) {
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, reply.empty() ? 500 : 100) <= 0) break;
    const ssize_t n = recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    reply.append(buf, static_cast<size_t>(n));
  }
  close(fd);
  return reply;
}

// The server checks Host against its (ephemeral) port, so inputs write "$PORT" where it goes.
std::string with_port(std::string s) {
  const std::string port = std::to_string(g_port);
  for (size_t at = 0; (at = s.find("$PORT", at)) != std::string::npos; at += port.size()) s.replace(at, 5, port);
  return s;
}

void check_alive() {
  const std::string req = with_port("GET /health HTTP/1.1\r\nHost: 127.0.0.1:$PORT\r\nConnection: close\r\n\r\n");
  const std::string r = exchange(reinterpret_cast<const uint8_t*>(req.data()), req.size());
  if (r.rfind("HTTP/1.1 200", 0) != 0) {
    std::fprintf(stderr, "fuzz_http: the server stopped answering /health: '%.200s'\n", r.c_str());
    __builtin_trap();
  }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  setenv("QIUSUO_THREADS", "1", 1);
  const std::string model = "/tmp/qiusuo_fuzz_http_" + std::to_string(getpid()) + ".gguf";
  qs::SynthOptions so;  // tiny deepseek2 with a synthetic byte vocabulary
  so.output = model;
  qs::write_synthetic_model(so);
  qs::server::ServerOptions o;
  o.host = "127.0.0.1";
  o.port = 0;
  o.quiet = true;
  o.parallel = 2;
  o.ctx_size = 128;
  o.max_queue = 4;
  o.timeout_s = 5;
  o.max_body_bytes = 64 << 10;
  o.request_read_timeout_s = 1;  // incomplete inputs are cut quickly
  o.cache_mib = 4;
  o.chat_template_file = std::string(QIUSUO_FIXTURES_DIR) + "/chat/deepseek-v3.jinja";
  // Lives for the whole run: the fuzzer exits the process, never returns here.
  static auto* srv = new qs::server::HttpServer(o);
  g_port = srv->start();
  srv->attach_model(qs::Model::load(model));
  std::remove(model.c_str());  // mapped; the name is no longer needed
  check_alive();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > (128u << 10)) return 0;
  const std::string req = with_port(std::string(reinterpret_cast<const char*>(data), size));
  (void)exchange(reinterpret_cast<const uint8_t*>(req.data()), req.size());
  static unsigned n = 0;
  if (++n % 64 == 0) check_alive();
  return 0;
}
