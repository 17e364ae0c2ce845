// qiusuo's OpenAI/DeepSeek-compatible HTTP server: the routes (routes.h, routes_openai.h) carried by
// cpp-httplib — one thread per connection, from a pool that grows on demand up to a cap; each request
// must arrive within --read-timeout so slow clients cannot hold the threads — and a graceful drain on
// shutdown. This file is the only one that includes the HTTP library.
#pragma once
#include <atomic>
#include <chrono>
#include <memory>
#include <thread>

#include "server/server_context.h"

namespace httplib {
class Server;
}

namespace qs::server {

class HttpServer {
 public:
  explicit HttpServer(ServerOptions opt);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Binds (port 0: an ephemeral port) and starts serving on a background thread; /health says
  // "loading" until a model is attached. Returns the bound port. Throws when it cannot bind.
  int start();
  int port() const { return ctx_.port; }

  // Loads opt.model_path (or takes a loaded model) and starts the scheduler. On failure the
  // server stays up and reports the error on /health; the exception is rethrown.
  void load_model();
  void attach_model(std::unique_ptr<Model> m);

  // Stops taking new requests (503), lets in-flight ones finish for up to drain_timeout, then
  // stops the scheduler and the listener.
  void shutdown(std::chrono::milliseconds drain_timeout);
  // Blocks until the listener has stopped.
  void wait();

  ServerContext& context() { return ctx_; }

 private:
  void setup_routes();

  ServerContext ctx_;
  std::unique_ptr<httplib::Server> http_;
  std::thread listener_;
  std::atomic<bool> listener_done_{false};
  bool stopped_ = false;
};

}  // namespace qs::server
