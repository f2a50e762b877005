// SPDX-License-Identifier: Apache-2.0
// Hashes of transport addresses for the network layer's maps.
#pragma once

#include <cstddef>

#include "protocol/types.hpp"

namespace turnpike::server::net {

// IP only (the port is ignored).
struct address_hash {
  std::size_t operator()(const protocol::transport_address& a) const noexcept {
    std::size_t h = 0;
    for (std::uint8_t b : a.ip) h = h * 131 + b;
    return h;
  }
};
// IP and port.
struct transport_address_hash {
  std::size_t operator()(const protocol::transport_address& a) const noexcept {
    return address_hash{}(a)*65599 + a.port;
  }
};

}  // namespace turnpike::server::net
