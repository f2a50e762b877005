// SPDX-License-Identifier: Apache-2.0
#include "server/process/stop_control.hpp"

namespace turnpike::server::process {

void stop_control::drain(const std::string& why) {
  if (draining_ || stopped_) return;
  draining_ = true;
  if (act_.drain) act_.drain(why);
}

void stop_control::stop(const std::string& why) {
  if (stopped_) return;
  stopped_ = true;
  next_check_.reset();
  deadline_.reset();
  if (act_.stop) act_.stop(why);
}

void stop_control::on_drain_signal() {
  drain("SIGUSR1");
}

void stop_control::on_stop_signal(const std::string& signal_name, clock::time_point now) {
  if (grace_.count() == 0 || deadline_) {
    // No grace, or a second signal during it.
    stop("signal " + signal_name + " received");
    return;
  }
  drain(signal_name);
  deadline_ = now + grace_;
  next_check_ = now + first_check;
}

void stop_control::on_check(std::uint64_t allocations_left, clock::time_point now) {
  if (!deadline_ || stopped_) return;
  if (allocations_left == 0 || now >= *deadline_) {
    stop("drained: " + std::to_string(allocations_left) + " relayed addresses left");
    return;
  }
  next_check_ = now + check_every;
}

}  // namespace turnpike::server::process
