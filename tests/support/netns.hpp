// SPDX-License-Identifier: Apache-2.0
// For tests whose server attaches an sk_lookup BPF program (root only): a network namespace
// of the test's own (such a program sees every socket of its namespace), and the capability
// sets of the server's threads. For tests with a named namespace: how to run a program in it.
#pragma once

#include <fcntl.h>
#include <sched.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "support/process.hpp"

namespace turnpike::test {

// The test's thread (and every process it starts) moves to a network namespace of its own
// for the object's life: the program a relay-mux server attaches takes its relay ports from
// every socket of the namespace (and shard packing's steers its listeners' clients), and other
// tests running beside this one bind relay ports in the same range. Loopback is brought up,
// and the ephemeral ports end at 50999, so relay ports from 51000 up are the server's alone.
class private_netns {
 public:
  private_netns() {
    saved_ = ::open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
    if (saved_ < 0 || ::unshare(CLONE_NEWNET) != 0) {
      throw std::runtime_error(std::string("unshare(CLONE_NEWNET): ") + std::strerror(errno));
    }
    process lo({"ip", "link", "set", "lo", "up"});
    if (lo.wait_exit() != 0) throw std::runtime_error("ip link set lo up: " + lo.output());
    std::ofstream("/proc/sys/net/ipv4/ip_local_port_range") << "32768 50999\n";
  }
  ~private_netns() {
    ::setns(saved_, CLONE_NEWNET);
    ::close(saved_);
  }
  private_netns(const private_netns&) = delete;
  private_netns& operator=(const private_netns&) = delete;
  static constexpr std::uint16_t relay_min = 51000;

 private:
  int saved_ = -1;
};

// What runs a program inside the network namespace `name` (made with `ip netns add`), as an
// argument vector to put before the program's own, or as the start of a shell command.
// nsenter enters that network namespace and nothing else: `ip netns exec` and `ip -n` also
// remount /sys in a mount namespace of their own, which needs `/` to be a mount point and so
// fails in a chroot or a build container.
inline std::vector<std::string> in_netns(const std::string& name) {
  return {"nsenter", "--net=/run/netns/" + name};
}
inline std::string in_netns_command(const std::string& name) {
  std::string out;
  for (const std::string& word : in_netns(name)) out += word + " ";
  return out;
}

inline  // CapPrm, CapEff or CapAmb of /proc/PID/task/TID/status as a bit set.
    std::uint64_t
    capability_set(const std::filesystem::path& status, const std::string& name) {
  std::ifstream in(status);
  for (std::string line; std::getline(in, line);) {
    if (line.rfind(name + ":", 0) == 0)
      return std::stoull(line.substr(name.size() + 1), nullptr, 16);
  }
  throw std::runtime_error("no " + name + " in " + status.string());
}

// How many threads `pid` runs, and which of `caps` (a bit set) any of them still holds in
// CapPrm, CapEff, CapAmb or CapInh.
struct capabilities_left {
  std::size_t threads = 0;
  std::uint64_t held = 0;
};
inline capabilities_left capabilities_of(int pid, std::uint64_t caps) {
  capabilities_left out;
  for (const auto& task :
       std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/task")) {
    ++out.threads;
    for (const char* set : {"CapPrm", "CapEff", "CapAmb", "CapInh"}) {
      out.held |= capability_set(task.path() / "status", set) & caps;
    }
  }
  return out;
}

}  // namespace turnpike::test
