// SPDX-License-Identifier: Apache-2.0
// Reservation tokens for EVEN-PORT R.
#include "server/net/relays/relay_ports.hpp"

#include <openssl/rand.h>

namespace turnpike::server::net {

engine::reservation_token relay_reservations::put(int fd,
                                                  const protocol::transport_address& local) {
  for (;;) {
    engine::reservation_token token{};
    RAND_bytes(token.data(), static_cast<int>(token.size()));
    if (held_.put(token, fd, local)) return token;
  }
}

}  // namespace turnpike::server::net
