// SPDX-License-Identifier: Apache-2.0
// How the process stops, as a state machine with the time passed in (main wires it to the
// signals and a timer; a unit test drives it with a fake clock):
// - a drain (SIGUSR1) refuses new allocations from then on; existing ones relay on;
// - a stop signal (SIGTERM, SIGINT) stops at once, or, with a grace period (drain-grace),
//   drains first and stops once no allocation is left or the grace is over, whichever comes
//   first; a second stop signal during the grace stops at once.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>

namespace turnpike::server::process {

class stop_control {
 public:
  using clock = std::chrono::steady_clock;
  // How often a grace period looks at the allocations left.
  static constexpr std::chrono::milliseconds check_every{500};
  static constexpr std::chrono::milliseconds first_check{100};

  struct actions {
    std::function<void(const std::string& why)> drain;  // refuse new allocations
    std::function<void(const std::string& why)> stop;   // end the process's main loop
  };
  stop_control(std::chrono::seconds grace, actions a) : grace_(grace), act_(std::move(a)) {}

  void on_drain_signal();
  // `signal_name`: "SIGTERM" or "SIGINT".
  void on_stop_signal(const std::string& signal_name, clock::time_point now);
  // When a grace period runs: called at next_check() with the allocations left.
  void on_check(std::uint64_t allocations_left, clock::time_point now);
  // When on_check is due next; nothing when no grace period runs.
  std::optional<clock::time_point> next_check() const noexcept { return next_check_; }
  bool draining() const noexcept { return draining_; }
  bool stopped() const noexcept { return stopped_; }

 private:
  void drain(const std::string& why);
  void stop(const std::string& why);

  std::chrono::seconds grace_;
  actions act_;
  bool draining_ = false;
  bool stopped_ = false;
  std::optional<clock::time_point> deadline_;  // the grace period's end, while it runs
  std::optional<clock::time_point> next_check_;
};

}  // namespace turnpike::server::process
