// SPDX-License-Identifier: Apache-2.0
// What the engine needs from a kernel data path (kernel-relay): bound channels installed and
// removed, per-allocation counter slots, and what the kernel relayed read back. The engine
// decides what is installed (kernel_channels.hpp); the network layer's kernel_relays does it.
// Tests use a fake.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>

#include "protocol/types.hpp"
#include "server/engine/types.hpp"

namespace turnpike::server::engine {

// One bound channel of a UDP client, both directions.
struct kernel_route {
  five_tuple client;                    // remote: the client; local: our listening address
  protocol::transport_address relayed;  // the relay address as bound (before external-ip)
  protocol::transport_address peer;
  std::uint16_t channel = 0;
  std::chrono::steady_clock::time_point expires;  // the kernel relays nothing at or after it
  std::uint32_t slot = 0;                         // the allocation's counter slot
  friend bool operator==(const kernel_route&, const kernel_route&) = default;
};

class kernel_io {
 public:
  // A zeroed counter slot for an allocation; nullopt when none is left (its channels then
  // stay in user space).
  virtual std::optional<std::uint32_t> take_slot() = 0;
  virtual void give_slot(std::uint32_t slot) = 0;
  // Installs or updates (same client, channel, relayed address and peer) a route; false when
  // the kernel cannot take it.
  virtual bool install(const kernel_route& route) = 0;
  virtual void remove(const kernel_route& route) = 0;
  // What the kernel relayed for the slot since it was taken: received_* from the client (to
  // peers), sent_* to the client, application bytes.
  virtual allocation_traffic traffic(std::uint32_t slot) = 0;

 protected:
  ~kernel_io() = default;
};

}  // namespace turnpike::server::engine
