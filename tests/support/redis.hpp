// SPDX-License-Identifier: Apache-2.0
// Test helper: a real redis-server (Debian's redis-server package) on a free loopback port,
// with no persistence, stopped when the object goes away; and redis-cli against it.
#pragma once

#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "support/process.hpp"
#include "support/stun_client.hpp"

namespace turnpike::test {

class redis_server {
 public:
  redis_server() : port_(free_port(SOCK_STREAM)) { start(); }
  ~redis_server() { stop(); }
  redis_server(const redis_server&) = delete;
  redis_server& operator=(const redis_server&) = delete;

  void start() {
    server_ = std::make_unique<process>(std::vector<std::string>{
        "redis-server", "--port", std::to_string(port_), "--bind", "127.0.0.1", "--save", "",
        "--appendonly", "no", "--daemonize", "no"});
    if (!server_->wait_for(std::regex("Ready to accept connections"), std::chrono::seconds(10))) {
      throw std::runtime_error("redis-server did not start: " + server_->output());
    }
  }
  // SIGKILL: a crash, not a clean shutdown.
  void kill() {
    if (server_) server_->signal(SIGKILL);
    if (server_) server_->wait_exit();
    server_.reset();
  }
  // SIGSTOP / SIGCONT: a Redis that keeps its connections open and answers nothing (a
  // black hole), then wakes up.
  void freeze() {
    if (server_) server_->signal(SIGSTOP);
  }
  void thaw() {
    if (server_) server_->signal(SIGCONT);
  }
  void stop() {
    if (!server_) return;
    server_->signal(SIGCONT);
    server_->signal(SIGTERM);
    server_->wait_exit();
    server_.reset();
  }
  std::uint16_t port() const { return port_; }
  // The redis-userdb connection string for it.
  std::string connection() const { return "ip=127.0.0.1 port=" + std::to_string(port_); }
  // Runs redis-cli with `args`; returns its output.
  std::string cli(std::vector<std::string> args) const {
    std::vector<std::string> argv{"redis-cli", "-h", "127.0.0.1", "-p", std::to_string(port_)};
    argv.insert(argv.end(), args.begin(), args.end());
    process p(argv);
    p.wait_exit(std::chrono::seconds(10));
    return p.output();
  }

 private:
  std::uint16_t port_;
  std::unique_ptr<process> server_;
};

}  // namespace turnpike::test
