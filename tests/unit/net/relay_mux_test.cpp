// SPDX-License-Identifier: Apache-2.0
// relay-mux without the kernel: the IP and UDP headers written for the raw sockets (fields and
// checksums, checked the way a receiver checks them), and the start-up checks.
#include "server/net/relays/relay_mux.hpp"

#include <gtest/gtest.h>
#include <netinet/in.h>

#include <fstream>
#include <numeric>
#include <vector>

#include "support/checksum.hpp"

namespace turnpike::server::net {
namespace {

using test::be16;
using test::receiver_sum;

protocol::transport_address at(const char* ip, std::uint16_t port) {
  return *protocol::transport_address::parse_ip(ip, port);
}

TEST(RelayMuxHeaders, Ipv4FieldsAndChecksumForOddAndEvenPayloads) {
  for (std::size_t size : {0u, 1u, 3u, 160u, 1201u}) {
    SCOPED_TRACE(size);
    std::vector<std::uint8_t> payload(size);
    std::iota(payload.begin(), payload.end(), std::uint8_t{7});
    std::uint8_t h[48];
    const auto n = build_udp_headers(at("192.0.2.1", 61000), at("198.51.100.7", 5004),
                                     payload.data(), payload.size(), true, h);
    ASSERT_EQ(n, 28u);
    EXPECT_EQ(h[0], 0x45);
    EXPECT_EQ(be16(h + 2), 28 + size);
    EXPECT_EQ(h[6], 0x40);  // DF
    EXPECT_EQ(h[9], IPPROTO_UDP);
    EXPECT_EQ(be16(h + 20), 61000u);
    EXPECT_EQ(be16(h + 22), 5004u);
    EXPECT_EQ(be16(h + 24), 8 + size);
    std::vector<std::uint8_t> udp(h + 20, h + 28);
    udp.insert(udp.end(), payload.begin(), payload.end());
    EXPECT_EQ(receiver_sum(h + 12, h + 16, 4, udp.data(), udp.size()), 0xffffu);
  }
  std::uint8_t h[48];
  build_udp_headers(at("192.0.2.1", 61000), at("198.51.100.7", 5004), nullptr, 0, false, h);
  EXPECT_EQ(h[6], 0);  // no DF unless asked
}

TEST(RelayMuxHeaders, Ipv6FieldsAndChecksum) {
  std::vector<std::uint8_t> payload(333, 0xab);
  std::uint8_t h[48];
  const auto n = build_udp_headers(at("2001:db8::1", 62001), at("2001:db8::99", 443),
                                   payload.data(), payload.size(), false, h);
  ASSERT_EQ(n, 48u);
  EXPECT_EQ(h[0] >> 4, 6);
  EXPECT_EQ(be16(h + 4), 8 + payload.size());
  EXPECT_EQ(h[6], IPPROTO_UDP);
  EXPECT_EQ(be16(h + 40), 62001u);
  EXPECT_EQ(be16(h + 42), 443u);
  std::vector<std::uint8_t> udp(h + 40, h + 48);
  udp.insert(udp.end(), payload.begin(), payload.end());
  EXPECT_EQ(receiver_sum(h + 8, h + 24, 16, udp.data(), udp.size()), 0xffffu);
  EXPECT_NE(be16(h + 46), 0u);  // IPv6 forbids a zero checksum
}

TEST(RelayMuxHeaders, MixedFamiliesAndOversizePayloadsAreRefused) {
  std::uint8_t h[48];
  std::vector<std::uint8_t> big(65535);
  EXPECT_EQ(build_udp_headers(at("192.0.2.1", 1), at("2001:db8::1", 2), nullptr, 0, false, h), 0u);
  EXPECT_EQ(
      build_udp_headers(at("192.0.2.1", 1), at("192.0.2.2", 2), big.data(), big.size(), false, h),
      0u);
}

TEST(RelayMuxConfig, WildcardsAndEphemeralOverlapAreRefused) {
  EXPECT_NE(relay_mux_unsupported({at("0.0.0.0", 0)}, 61000, 65535), std::nullopt);
  EXPECT_NE(relay_mux_unsupported({at("::", 0)}, 61000, 65535), std::nullopt);
  unsigned lo = 0, hi = 0;
  std::ifstream range("/proc/sys/net/ipv4/ip_local_port_range");
  ASSERT_TRUE(range >> lo >> hi);
  const auto overlap = relay_mux_unsupported({at("192.0.2.1", 0)}, static_cast<std::uint16_t>(lo),
                                             static_cast<std::uint16_t>(lo));
  ASSERT_TRUE(overlap);
  EXPECT_NE(overlap->find("ip_local_port_range"), std::string::npos) << *overlap;
  if (hi < 65535) {
    EXPECT_EQ(relay_mux_unsupported({at("192.0.2.1", 0), at("192.0.2.2", 0), at("2001:db8::1", 0)},
                                    static_cast<std::uint16_t>(hi + 1), 65535),
              std::nullopt);
  }
}

}  // namespace
}  // namespace turnpike::server::net
