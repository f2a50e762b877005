// SPDX-License-Identifier: Apache-2.0
// Test helper: a PostgreSQL server of the test's own (Debian's postgresql package): initdb
// into a fresh temporary directory, a free loopback port, trust authentication for the
// superuser "turn", stopped and deleted when the object goes away. PostgreSQL refuses to run
// as root, so the server runs as the package's "postgres" user (setpriv, which execs, so the
// server is this helper's own child and signals reach it).
#pragma once

#include <pwd.h>
#include <unistd.h>

#include <filesystem>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "support/process.hpp"
#include "support/stun_client.hpp"

namespace turnpike::test {

class postgres_server {
 public:
  // Empty when a server can be started here; otherwise why not (the test skips).
  static std::string missing() {
    if (::geteuid() != 0) return "needs root (to run the server as the postgres user)";
    if (::getpwnam("postgres") == nullptr) return "no postgres user (postgresql not installed)";
    if (bin_dir().empty()) return "no /usr/lib/postgresql/*/bin/initdb";
    return "";
  }

  postgres_server() : port_(free_port(SOCK_STREAM)) {
    char dir[] = "/tmp/turnpike-pg-XXXXXX";
    if (::mkdtemp(dir) == nullptr) throw std::runtime_error("mkdtemp");
    dir_ = dir;
    const passwd* pg = ::getpwnam("postgres");
    if (pg == nullptr || ::chown(dir, pg->pw_uid, pg->pw_gid) != 0) {
      throw std::runtime_error("cannot hand " + dir_ + " to the postgres user");
    }
    process init(as_postgres({bin_dir() + "/initdb", "-D", dir_ + "/data", "-A", "trust", "-U",
                              "turn", "--no-sync", "-E", "UTF8"}));
    if (init.wait_exit(std::chrono::seconds(60)) != 0) {
      throw std::runtime_error("initdb failed: " + init.output());
    }
    start();
  }
  ~postgres_server() {
    stop();
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }
  postgres_server(const postgres_server&) = delete;
  postgres_server& operator=(const postgres_server&) = delete;

  void start() {
    server_ = std::make_unique<process>(
        as_postgres({bin_dir() + "/postgres", "-D", dir_ + "/data", "-p", std::to_string(port_),
                     "-k", dir_, "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off"}));
    if (!server_->wait_for(std::regex("ready to accept connections"), std::chrono::seconds(30))) {
      throw std::runtime_error("postgres did not start: " + server_->output());
    }
  }
  // SIGINT: PostgreSQL's fast shutdown (clients are disconnected).
  void stop() {
    if (!server_) return;
    server_->signal(SIGINT);
    server_->wait_exit(std::chrono::seconds(30));
    server_.reset();
  }
  std::uint16_t port() const { return port_; }
  // libpq conninfo for database `db`.
  std::string conninfo(const std::string& db) const {
    return "host=127.0.0.1 port=" + std::to_string(port_) + " dbname=" + db +
           " user=turn connect_timeout=5";
  }
  // Runs psql on `db` with -c `sql` (or -f when `sql` names a file); returns its exit code
  // and output.
  std::pair<int, std::string> psql(const std::string& db, const std::string& sql) const {
    const bool file = std::filesystem::exists(sql);
    process p({"psql", "-h", "127.0.0.1", "-p", std::to_string(port_), "-U", "turn", "-d", db, "-v",
               "ON_ERROR_STOP=1", "-q", "-A", "-t", file ? "-f" : "-c", sql});
    const auto rc = p.wait_exit(std::chrono::seconds(30));
    return {rc.value_or(-1), p.output()};
  }

 private:
  static std::string bin_dir() {
    std::error_code ec;
    for (const auto& e : std::filesystem::directory_iterator("/usr/lib/postgresql", ec)) {
      if (std::filesystem::exists(e.path() / "bin" / "initdb")) return (e.path() / "bin").string();
    }
    return "";
  }
  static std::vector<std::string> as_postgres(std::vector<std::string> argv) {
    argv.insert(argv.begin(),
                {"setpriv", "--reuid=postgres", "--regid=postgres", "--init-groups", "--"});
    return argv;
  }

  std::uint16_t port_;
  std::string dir_;
  std::unique_ptr<process> server_;
};

}  // namespace turnpike::test
