// SPDX-License-Identifier: Apache-2.0
// Test helper: runs a program with its stdout and stderr on a pipe, waits for lines matching a
// pattern (with a time limit), sends signals, and collects the exit status.
#pragma once

#include <fstream>
#include <sstream>

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <optional>
#include <regex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace turnpike::test {

class process {
 public:
  explicit process(std::vector<std::string> argv) {
    int fds[2];
    if (pipe(fds) != 0) throw std::runtime_error("pipe");
    pid_ = fork();
    if (pid_ < 0) throw std::runtime_error("fork");
    if (pid_ == 0) {
      // No input: a child that reads stdin sees end-of-file at once.
      const int null_fd = open("/dev/null", O_RDONLY);
      if (null_fd >= 0) dup2(null_fd, 0);
      dup2(fds[1], 1);
      dup2(fds[1], 2);
      close(fds[0]);
      close(fds[1]);
      std::vector<char*> args;
      for (auto& a : argv) args.push_back(a.data());
      args.push_back(nullptr);
      execvp(args[0], args.data());
      _exit(127);
    }
    close(fds[1]);
    fd_ = fds[0];
    fcntl(fd_, F_SETFL, fcntl(fd_, F_GETFL) | O_NONBLOCK);
  }
  ~process() {
    if (pid_ > 0 && !status_) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
    if (fd_ >= 0) close(fd_);
  }
  process(const process&) = delete;
  process& operator=(const process&) = delete;

  // Returns the first line matching `re` (among lines from number `from` on, old or new),
  // reading for at most `limit`.
  std::optional<std::smatch> wait_for(const std::regex& re,
                                      std::chrono::milliseconds limit = std::chrono::seconds(10),
                                      std::size_t from = 0) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    std::size_t scanned = from;
    for (;;) {
      for (; scanned < lines_.size(); ++scanned) {
        std::smatch m;
        if (std::regex_search(lines_[scanned], m, re)) return m;
      }
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0 || !read_some(static_cast<int>(left.count()))) return std::nullopt;
    }
  }

  void signal(int sig) { kill(pid_, sig); }
  pid_t pid() const noexcept { return pid_; }
  // Lines read so far (a mark for wait_for's `from`).
  std::size_t line_count() const { return lines_.size(); }

  // Waits for exit (reading output meanwhile); returns the exit code, or -signal.
  std::optional<int> wait_exit(std::chrono::milliseconds limit = std::chrono::seconds(10)) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (!status_) {
      int st = 0;
      if (waitpid(pid_, &st, WNOHANG) == pid_) {
        status_ = WIFEXITED(st) ? WEXITSTATUS(st) : -WTERMSIG(st);
        break;
      }
      if (std::chrono::steady_clock::now() > deadline) return std::nullopt;
      read_some(20);
    }
    while (read_some(0)) {
    }
    return status_;
  }

  std::string output() const {
    std::string all;
    for (const auto& l : lines_) all += l + "\n";
    return all + partial_;
  }

 private:
  bool read_some(int timeout_ms) {
    pollfd p{fd_, POLLIN, 0};
    if (poll(&p, 1, timeout_ms) <= 0) return false;
    char buf[4096];
    const ssize_t n = read(fd_, buf, sizeof buf);
    if (n <= 0) return false;
    partial_.append(buf, static_cast<std::size_t>(n));
    for (std::size_t nl; (nl = partial_.find('\n')) != std::string::npos;) {
      lines_.push_back(partial_.substr(0, nl));
      partial_.erase(0, nl + 1);
    }
    return true;
  }

  pid_t pid_ = -1;
  int fd_ = -1;
  std::vector<std::string> lines_;
  std::string partial_;
  std::optional<int> status_;
};

// CPU seconds (user + system) a process has used so far, from /proc/PID/stat.
inline double cpu_seconds(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string all((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::istringstream rest(all.substr(all.rfind(')') + 2));
  std::string field;
  double ticks = 0;
  for (int i = 3; i <= 15 && rest >> field; ++i) {
    if (i == 14 || i == 15) ticks += std::stod(field);  // utime, stime
  }
  return ticks / static_cast<double>(sysconf(_SC_CLK_TCK));
}

// Whether a UDP socket on `port` exists in the network namespace of `pid` (its
// /proc/PID/net/udp and udp6, which list that namespace's sockets), waiting up to `limit`:
// for a child that says nothing when it is ready, such as turnutils_peer.
inline bool wait_udp_bound(pid_t pid, std::uint16_t port,
                           std::chrono::milliseconds limit = std::chrono::seconds(5)) {
  char hex[8];
  std::snprintf(hex, sizeof hex, ":%04X", port);  // as the tables write a port
  const auto until = std::chrono::steady_clock::now() + limit;
  do {
    for (const char* table : {"/net/udp", "/net/udp6"}) {
      std::ifstream in("/proc/" + std::to_string(pid) + table);
      std::string line;
      std::getline(in, line);  // the header
      while (std::getline(in, line)) {
        // "  sl  local_address rem_address ...": the local address is the second field.
        std::istringstream fields(line);
        std::string slot, local;
        fields >> slot >> local;
        if (local.ends_with(hex)) return true;
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  } while (std::chrono::steady_clock::now() < until);
  return false;
}

}  // namespace turnpike::test
