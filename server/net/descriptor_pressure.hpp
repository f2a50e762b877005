// SPDX-License-Identifier: Apache-2.0
// Whether the process ran out of descriptors (EMFILE/ENFILE) lately, anywhere: a relay socket
// bind, a TCP accept. While it did, shards keep no spare relay sockets, so every descriptor an
// ending allocation frees goes back at once to whatever is waiting for one.
#pragma once

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdint>

namespace turnpike::server::net {

inline constexpr std::chrono::seconds descriptor_pressure_hold{10};

inline std::atomic<std::int64_t>& descriptors_short_until() noexcept {
  static std::atomic<std::int64_t> until{0};  // steady_clock ticks
  return until;
}

// Call with the errno of a failed call: remembers EMFILE/ENFILE; true if it was one of them.
inline bool note_descriptor_error(int error) noexcept {
  if (error != EMFILE && error != ENFILE) return false;
  const auto until = std::chrono::steady_clock::now() + descriptor_pressure_hold;
  descriptors_short_until().store(until.time_since_epoch().count(), std::memory_order_relaxed);
  return true;
}

inline bool descriptors_short() noexcept {
  return std::chrono::steady_clock::now().time_since_epoch().count() <
         descriptors_short_until().load(std::memory_order_relaxed);
}

}  // namespace turnpike::server::net
