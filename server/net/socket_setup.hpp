// SPDX-License-Identifier: Apache-2.0
// Making a bound socket, the one way every part of the network layer does it: listeners,
// UDP relays and their connected twins, TCP relays and their outgoing peer connections.
#pragma once

#include "protocol/types.hpp"

namespace turnpike::server::net {

struct bind_options {
  bool reuse_address = false;  // SO_REUSEADDR
  bool reuse_port = false;     // SO_REUSEPORT (shards' listeners; a relay's connected twin)
  bool dont_fragment = false;  // DF on every datagram sent (RFC 8656 section 7.2 step 4)
};

// A non-blocking, close-on-exec socket of `type` (SOCK_DGRAM or SOCK_STREAM) bound to `at`
// (IPv6 only, for an IPv6 address); -1 with errno set when it cannot be made.
int bind_socket(int type, const protocol::transport_address& at, bind_options options) noexcept;

}  // namespace turnpike::server::net
