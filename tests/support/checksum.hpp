// SPDX-License-Identifier: Apache-2.0
// Checking UDP checksums the way a receiver does, for tests of code that writes IP and UDP
// headers itself (relay-mux's raw sockets, the kernel relay's rewritten packets).
#pragma once

#include <netinet/in.h>

#include <cstddef>
#include <cstdint>
#include <vector>

namespace turnpike::test {

inline std::uint32_t be16(const std::uint8_t* p) {
  return static_cast<std::uint32_t>(p[0] << 8 | p[1]);
}

// The one's-complement sum a receiver computes over pseudo-header, UDP header and payload:
// 0xffff when the checksum is right.
inline std::uint32_t receiver_sum(const std::uint8_t* src, const std::uint8_t* dst,
                                  std::size_t addr_len, const std::uint8_t* udp,
                                  std::size_t udp_len) {
  std::vector<std::uint8_t> all(src, src + addr_len);
  all.insert(all.end(), dst, dst + addr_len);
  all.push_back(0);
  all.push_back(IPPROTO_UDP);
  all.push_back(static_cast<std::uint8_t>(udp_len >> 8));
  all.push_back(static_cast<std::uint8_t>(udp_len));
  all.insert(all.end(), udp, udp + udp_len);
  if (all.size() % 2 != 0) all.push_back(0);
  std::uint64_t sum = 0;
  for (std::size_t i = 0; i < all.size(); i += 2) sum += be16(&all[i]);
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<std::uint32_t>(sum);
}

// The IPv4 header checksum check: 0xffff when right.
inline std::uint32_t ipv4_header_sum(const std::uint8_t* ip) {
  std::uint64_t sum = 0;
  for (std::size_t i = 0; i < 20; i += 2) sum += be16(ip + i);
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<std::uint32_t>(sum);
}

}  // namespace turnpike::test
