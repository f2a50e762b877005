// SPDX-License-Identifier: Apache-2.0
// Which of an allocation's channels the kernel relays (kernel-relay), kept in step with the
// allocation: the engine calls sync() whenever a channel, a permission, the allocation's
// lifetime or the peer policy changes, fold() to add what the kernel relayed to the
// allocation's traffic, and drop() when the allocation ends. A channel is relayed in the
// kernel when the allocation may be (a UDP client, a UDP relay, no bandwidth limit: the
// kernel does not meter), its permission is live and the policy permits its peer; its
// route expires with whichever of channel, permission and allocation ends first.
#pragma once

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
  // Adds what the kernel relayed since the last fold to a.traffic; returns that much.
  allocation_traffic fold(allocation& a) noexcept;
  // Removes the allocation's routes and gives its slot back, after a last fold (returned).
  allocation_traffic drop(allocation& a) noexcept;
  std::size_t installed() const noexcept { return installed_; }
  // Allocations holding a counter slot (their traffic is folded in periodically).
  std::size_t slots() const noexcept { return slots_; }

 private:
  kernel_io* io_;
  std::size_t installed_ = 0;  // routes, all allocations together
  std::size_t slots_ = 0;
};

}  // namespace turnpike::server::engine
