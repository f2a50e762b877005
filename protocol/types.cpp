// SPDX-License-Identifier: Apache-2.0
// Names of methods and attributes, and textual forms of transport addresses.
#include "protocol/types.hpp"

#include <arpa/inet.h>

#include <cstring>

namespace turnpike::protocol {

const char* attribute_name(std::uint16_t type) noexcept {
  switch (type) {
    case attr::mapped_address:
      return "MAPPED-ADDRESS";
    case attr::change_request:
      return "CHANGE-REQUEST";
    case attr::username:
      return "USERNAME";
    case attr::message_integrity:
      return "MESSAGE-INTEGRITY";
    case attr::error_code:
      return "ERROR-CODE";
    case attr::unknown_attributes:
      return "UNKNOWN-ATTRIBUTES";
    case attr::channel_number:
      return "CHANNEL-NUMBER";
    case attr::lifetime:
      return "LIFETIME";
    case attr::xor_peer_address:
      return "XOR-PEER-ADDRESS";
    case attr::data:
      return "DATA";
    case attr::realm:
      return "REALM";
    case attr::nonce:
      return "NONCE";
    case attr::xor_relayed_address:
      return "XOR-RELAYED-ADDRESS";
    case attr::requested_address_family:
      return "REQUESTED-ADDRESS-FAMILY";
    case attr::even_port:
      return "EVEN-PORT";
    case attr::requested_transport:
      return "REQUESTED-TRANSPORT";
    case attr::dont_fragment:
      return "DONT-FRAGMENT";
    case attr::message_integrity_sha256:
      return "MESSAGE-INTEGRITY-SHA256";
    case attr::password_algorithm:
      return "PASSWORD-ALGORITHM";
    case attr::userhash:
      return "USERHASH";
    case attr::xor_mapped_address:
      return "XOR-MAPPED-ADDRESS";
    case attr::reservation_token:
      return "RESERVATION-TOKEN";
    case attr::priority:
      return "PRIORITY";
    case attr::use_candidate:
      return "USE-CANDIDATE";
    case attr::padding:
      return "PADDING";
    case attr::response_port:
      return "RESPONSE-PORT";
    case attr::connection_id:
      return "CONNECTION-ID";
    case attr::additional_address_family:
      return "ADDITIONAL-ADDRESS-FAMILY";
    case attr::address_error_code:
      return "ADDRESS-ERROR-CODE";
    case attr::password_algorithms:
      return "PASSWORD-ALGORITHMS";
    case attr::alternate_domain:
      return "ALTERNATE-DOMAIN";
    case attr::icmp:
      return "ICMP";
    case attr::software:
      return "SOFTWARE";
    case attr::alternate_server:
      return "ALTERNATE-SERVER";
    case attr::fingerprint:
      return "FINGERPRINT";
    case attr::ice_controlled:
      return "ICE-CONTROLLED";
    case attr::ice_controlling:
      return "ICE-CONTROLLING";
    case attr::response_origin:
      return "RESPONSE-ORIGIN";
    case attr::other_address:
      return "OTHER-ADDRESS";
    case attr::mobility_ticket:
      return "MOBILITY-TICKET";
    default:
      return nullptr;
  }
}

bool is_known_attribute(std::uint16_t type) noexcept {
  return attribute_name(type) != nullptr;
}

const char* method_name(std::uint16_t m) noexcept {
  switch (static_cast<method>(m)) {
    case method::binding:
      return "binding";
    case method::allocate:
      return "allocate";
    case method::refresh:
      return "refresh";
    case method::send:
      return "send";
    case method::data:
      return "data";
    case method::create_permission:
      return "create_permission";
    case method::channel_bind:
      return "channel_bind";
    case method::connect:
      return "connect";
    case method::connection_bind:
      return "connection_bind";
    case method::connection_attempt:
      return "connection_attempt";
  }
  return nullptr;
}

transport_address transport_address::v4(std::uint32_t host_order_ip, std::uint16_t port) noexcept {
  transport_address a;
  a.family = address_family::ipv4;
  a.ip[0] = static_cast<std::uint8_t>(host_order_ip >> 24);
  a.ip[1] = static_cast<std::uint8_t>(host_order_ip >> 16);
  a.ip[2] = static_cast<std::uint8_t>(host_order_ip >> 8);
  a.ip[3] = static_cast<std::uint8_t>(host_order_ip);
  a.port = port;
  return a;
}

std::optional<transport_address> transport_address::parse_ip(std::string_view text,
                                                             std::uint16_t port) {
  char buf[INET6_ADDRSTRLEN + 1];
  if (text.empty() || text.size() >= sizeof buf) return std::nullopt;
  std::memcpy(buf, text.data(), text.size());
  buf[text.size()] = '\0';
  transport_address a;
  a.port = port;
  if (inet_pton(AF_INET, buf, a.ip.data()) == 1) {
    a.family = address_family::ipv4;
    return a;
  }
  if (inet_pton(AF_INET6, buf, a.ip.data()) == 1) {
    a.family = address_family::ipv6;
    return a;
  }
  return std::nullopt;
}

std::string transport_address::ip_string() const {
  char buf[INET6_ADDRSTRLEN];
  const int af = family == address_family::ipv4 ? AF_INET : AF_INET6;
  if (inet_ntop(af, ip.data(), buf, sizeof buf) == nullptr) return "?";
  return buf;
}

std::string transport_address::to_string() const {
  // Appended piece by piece: GCC 12 at -O3 warns falsely (-Wrestrict) on "[" + string.
  std::string s;
  if (family == address_family::ipv6) s += '[';
  s += ip_string();
  if (family == address_family::ipv6) s += ']';
  s += ':';
  s += std::to_string(port);
  return s;
}

}  // namespace turnpike::protocol
