// SPDX-License-Identifier: Apache-2.0
// Which addresses the server binds: the configured listening IPs (or every interface address),
// the listening port, and for RFC 5780 the alternate port on each, with the pairing of each
// IP to its "other" IP of the same family.
#pragma once

#include <vector>

#include "server/config/config.hpp"
#include "server/engine/engine.hpp"

namespace turnpike::server::net {

struct listen_plan {
  std::vector<protocol::transport_address> ips;  // port fields unused
  std::uint16_t port = 0;
  std::uint16_t alt_port = 0;  // bound only when rfc5780 is set
  std::optional<engine::engine_settings::rfc5780_addresses> rfc5780;
};

// For an OS-chosen port (0) that UDP and TCP listeners must share: a port of the kernel's
// ephemeral range that both a UDP and a TCP socket on `ip` can bind (the port probe with
// throwaway sockets); 0 when none was found.
std::uint16_t free_udp_and_tcp_port(const protocol::transport_address& ip);

// Every non-link-local address of every interface that is up (coturn's default).
std::vector<protocol::transport_address> interface_addresses();
// The same with the interface each address is on (an address on two interfaces twice).
struct interface_address {
  std::string name;
  protocol::transport_address address;
};
std::vector<interface_address> named_interface_addresses();

// RFC 5780 is on when enabled and some family has two or more IPs: each IP is paired with
// the next IP of its family (cyclically). IPs without a partner get no OTHER-ADDRESS.
listen_plan make_listen_plan(const config::server_config& cfg,
                             std::vector<protocol::transport_address> ips);

}  // namespace turnpike::server::net
