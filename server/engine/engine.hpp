// SPDX-License-Identifier: Apache-2.0
// The sans-IO request engine of one shard. Input: a five-tuple and the bytes of one datagram
// or one stream frame. Output: responses written through the injected client_sink. No
// sockets, no clock, no allocation per packet. Today it answers STUN Binding (RFC 8489
// section 10, RFC 5780 section 6) and refuses other methods; TURN methods arrive next.
#pragma once

#include <array>
#include <optional>
#include <string>
#include <vector>

#include "protocol/message.hpp"
#include "server/engine/types.hpp"

namespace turnpike::server::engine {

struct engine_settings {
  bool answer_binding = true;          // false with no-stun
  bool fingerprint_always = false;     // coturn's `fingerprint`
  bool backward_compatibility = true;  // MAPPED-ADDRESS and RFC 3489 clients
  std::string software;                // SOFTWARE value; empty: not sent
  bool log_binding = false;
  // RFC 5780: present when the server has a second IP of the same family for each listening
  // IP (other_ips[i] pairs with primary ips) and a second port.
  struct rfc5780_addresses {
    std::vector<std::pair<protocol::transport_address, protocol::transport_address>> other_ip;
    std::uint16_t port = 0;
    std::uint16_t alt_port = 0;
  };
  std::optional<rfc5780_addresses> rfc5780;
};

class engine {
 public:
  engine(engine_settings settings, client_sink& sink);

  // One datagram (UDP) or one complete frame from protocol::next_frame (streams).
  void on_packet(const five_tuple& path, protocol::byte_span bytes) noexcept;

  const engine_counters& counters() const noexcept { return counters_; }

 private:
  void on_binding(const five_tuple& path, const protocol::message_view& req) noexcept;
  void on_classic_binding(const five_tuple& path, protocol::byte_span bytes) noexcept;
  void send_error(const five_tuple& path, const protocol::message_view& req, int code,
                  std::span<const std::uint16_t> unknown = {}) noexcept;
  std::optional<protocol::transport_address> other_address(
      const protocol::transport_address& local) const noexcept;
  std::optional<protocol::transport_address> other_ip(
      const protocol::transport_address& local) const noexcept;

  engine_settings settings_;
  client_sink& sink_;
  engine_counters counters_;
  // Responses are built here; 1500 bytes covers every Binding response we emit (PADDING is
  // echoed only while it fits).
  std::array<std::uint8_t, 1500> out_{};
};

}  // namespace turnpike::server::engine
