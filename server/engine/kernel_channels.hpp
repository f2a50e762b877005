// SPDX-License-Identifier: Apache-2.0
// Which of an allocation's channels the kernel relays (kernel-relay), kept in step with the
// allocation: the engine calls sync() whenever a channel, a permission, the allocation's
// lifetime or the peer policy changes, fold() to add what the kernel relayed to the
// allocation's traffic, and drop() when the allocation ends. A channel is relayed in the
// kernel when the allocation may be (a UDP client, a UDP relay, no bandwidth limit: the
// kernel does not meter), its permission is live and the policy permits its peer; its
// route expires with whichever of channel, permission and allocation ends first. What the
// kernel relayed counts as relayed traffic (engine_counters), folded in at least once a
// second while any allocation holds a slot (next_fold).
#pragma once

#include <chrono>
#include <optional>
#include <vector>

#include "server/engine/kernel_io.hpp"
#include "server/engine/types.hpp"

namespace turnpike::server::engine {

struct allocation;
class peer_policy;

// What the kernel holds for one allocation.
struct kernel_state {
  std::optional<std::uint32_t> slot;
  std::vector<kernel_route> installed;
  allocation_traffic folded;  // the slot's traffic already added to the allocation's
};

class kernel_channels {
 public:
  explicit kernel_channels(kernel_io* io) noexcept : io_(io) {}
  bool enabled() const noexcept { return io_ != nullptr; }

  // `eligible`: the allocation may be relayed in the kernel at all (see above).
  void sync(allocation& a, bool eligible, const peer_policy& policy) noexcept;
  // Adds what the kernel relayed for `a` since the last fold to a.traffic and `counters`.
  void fold(allocation& a, engine_counters& counters) noexcept;
  // Removes the allocation's routes and gives its slot back, after a last fold.
  void drop(allocation& a, engine_counters& counters) noexcept;
  std::size_t installed() const noexcept { return installed_; }
  // When every allocation's traffic is due to be folded in next (never while no allocation
  // holds a slot); the caller folds them all, then says so.
  std::chrono::steady_clock::time_point next_fold() const noexcept {
    return slots_ > 0 ? next_fold_ : std::chrono::steady_clock::time_point::max();
  }
  void folded(std::chrono::steady_clock::time_point now) noexcept {
    next_fold_ = now + std::chrono::seconds(1);
  }

 private:
  kernel_io* io_;
  std::size_t installed_ = 0;  // routes, all allocations together
  std::size_t slots_ = 0;      // allocations holding a counter slot
  std::chrono::steady_clock::time_point next_fold_{};
};

}  // namespace turnpike::server::engine
