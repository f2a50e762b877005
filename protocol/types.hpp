// SPDX-License-Identifier: Apache-2.0
// STUN/TURN constants: message methods and classes, attribute type codes, transport addresses.
// RFC 8489 sections 5 and 18, RFC 8656 section 18, RFC 6062 section 6, RFC 5780 section 7,
// RFC 8016 section 3.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace turnpike::protocol {

inline constexpr std::uint32_t magic_cookie = 0x2112A442;
inline constexpr std::size_t header_size = 20;
inline constexpr std::size_t attribute_header_size = 4;
inline constexpr std::uint32_t fingerprint_xor = 0x5354554e;

enum class method : std::uint16_t {
  binding = 0x001,
  allocate = 0x003,
  refresh = 0x004,
  send = 0x006,
  data = 0x007,
  create_permission = 0x008,
  channel_bind = 0x009,
  connect = 0x00A,             // RFC 6062
  connection_bind = 0x00B,     // RFC 6062
  connection_attempt = 0x00C,  // RFC 6062
};

enum class msg_class : std::uint8_t {
  request = 0b00,
  indication = 0b01,
  success_response = 0b10,
  error_response = 0b11,
};

// The 14-bit message type interleaves method bits M0-M11 with class bits C0, C1
// (RFC 8489 section 5, figure 3).
constexpr std::uint16_t make_message_type(std::uint16_t m, msg_class c) noexcept {
  const auto cls = static_cast<std::uint16_t>(c);
  return static_cast<std::uint16_t>((m & 0x000F) | ((m & 0x0070) << 1) | ((m & 0x0F80) << 2) |
                                    ((cls & 0x1) << 4) | ((cls & 0x2) << 7));
}
constexpr std::uint16_t make_message_type(method m, msg_class c) noexcept {
  return make_message_type(static_cast<std::uint16_t>(m), c);
}
constexpr std::uint16_t method_of(std::uint16_t type) noexcept {
  return static_cast<std::uint16_t>((type & 0x000F) | ((type & 0x00E0) >> 1) |
                                    ((type & 0x3E00) >> 2));
}
constexpr msg_class class_of(std::uint16_t type) noexcept {
  return static_cast<msg_class>(((type >> 4) & 0x1) | ((type >> 7) & 0x2));
}

// Attribute type codes. 0x0000-0x7FFF are comprehension-required, 0x8000-0xFFFF optional.
namespace attr {
// RFC 8489
inline constexpr std::uint16_t mapped_address = 0x0001;
inline constexpr std::uint16_t username = 0x0006;
inline constexpr std::uint16_t message_integrity = 0x0008;
inline constexpr std::uint16_t error_code = 0x0009;
inline constexpr std::uint16_t unknown_attributes = 0x000A;
inline constexpr std::uint16_t realm = 0x0014;
inline constexpr std::uint16_t nonce = 0x0015;
inline constexpr std::uint16_t message_integrity_sha256 = 0x001C;
inline constexpr std::uint16_t password_algorithm = 0x001D;
inline constexpr std::uint16_t userhash = 0x001E;
inline constexpr std::uint16_t xor_mapped_address = 0x0020;
inline constexpr std::uint16_t password_algorithms = 0x8002;
inline constexpr std::uint16_t alternate_domain = 0x8003;
inline constexpr std::uint16_t software = 0x8022;
inline constexpr std::uint16_t alternate_server = 0x8023;
inline constexpr std::uint16_t fingerprint = 0x8028;
// RFC 8656 (TURN)
inline constexpr std::uint16_t channel_number = 0x000C;
inline constexpr std::uint16_t lifetime = 0x000D;
inline constexpr std::uint16_t xor_peer_address = 0x0012;
inline constexpr std::uint16_t data = 0x0013;
inline constexpr std::uint16_t xor_relayed_address = 0x0016;
inline constexpr std::uint16_t requested_address_family = 0x0017;
inline constexpr std::uint16_t even_port = 0x0018;
inline constexpr std::uint16_t requested_transport = 0x0019;
inline constexpr std::uint16_t dont_fragment = 0x001A;
inline constexpr std::uint16_t reservation_token = 0x0022;
inline constexpr std::uint16_t additional_address_family = 0x8000;
// The code the TURN IPv6 drafts used, still sent by coturn 4.6's clients (turnutils_uclient -Z).
inline constexpr std::uint16_t additional_address_family_draft = 0x8032;
inline constexpr std::uint16_t address_error_code = 0x8001;
inline constexpr std::uint16_t icmp = 0x8004;
// RFC 6062 (TURN TCP allocations)
inline constexpr std::uint16_t connection_id = 0x002A;
// RFC 5780 (NAT behaviour discovery)
inline constexpr std::uint16_t change_request = 0x0003;
inline constexpr std::uint16_t padding = 0x0026;
inline constexpr std::uint16_t response_port = 0x0027;
inline constexpr std::uint16_t response_origin = 0x802B;
inline constexpr std::uint16_t other_address = 0x802C;
// RFC 8016 (mobility)
inline constexpr std::uint16_t mobility_ticket = 0x8030;
// RFC 8445 (ICE); a server never acts on them but must not treat them as unknown.
inline constexpr std::uint16_t priority = 0x0024;
inline constexpr std::uint16_t use_candidate = 0x0025;
inline constexpr std::uint16_t ice_controlled = 0x8029;
inline constexpr std::uint16_t ice_controlling = 0x802A;
}  // namespace attr

constexpr bool is_comprehension_required(std::uint16_t type) noexcept {
  return type < 0x8000;
}

// True for every attribute type this codec knows how to decode.
bool is_known_attribute(std::uint16_t type) noexcept;
// Upper-case RFC name ("XOR-MAPPED-ADDRESS"), or nullptr for unknown types.
const char* attribute_name(std::uint16_t type) noexcept;
// Lower-case method name ("binding"), or nullptr.
const char* method_name(std::uint16_t m) noexcept;

using transaction_id = std::array<std::uint8_t, 12>;

enum class address_family : std::uint8_t { ipv4 = 0x01, ipv6 = 0x02 };

// An IP address and port as carried in STUN address attributes. For IPv4 only the first four
// bytes of `ip` are used and the rest stay zero, so defaulted equality is exact.
struct transport_address {
  address_family family = address_family::ipv4;
  std::array<std::uint8_t, 16> ip{};
  std::uint16_t port = 0;

  friend bool operator==(const transport_address&, const transport_address&) = default;

  static transport_address v4(std::uint32_t host_order_ip, std::uint16_t port) noexcept;
  // Parses "1.2.3.4", "::1" (no port). Returns nullopt when not an address.
  static std::optional<transport_address> parse_ip(std::string_view text, std::uint16_t port = 0);
  std::string ip_string() const;
  // 0.0.0.0 or :: (the wildcard a socket binds to listen on every address).
  bool is_unspecified() const noexcept {
    for (std::uint8_t b : ip) {
      if (b != 0) return false;
    }
    return true;
  }
  // "1.2.3.4:5" or "[::1]:5".
  std::string to_string() const;
};

}  // namespace turnpike::protocol
