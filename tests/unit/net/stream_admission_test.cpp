// SPDX-License-Identifier: Apache-2.0
#include "server/net/stream_admission.hpp"

#include <gtest/gtest.h>

namespace turnpike::server::net {
namespace {

protocol::transport_address at(const char* ip, std::uint16_t port) {
  return *protocol::transport_address::parse_ip(ip, port);
}

TEST(StreamAdmission, CountsPerIpWhateverThePortAndReleasesExactly) {
  stream_admission a(2);
  EXPECT_TRUE(a.admit(at("192.0.2.1", 1000)));
  EXPECT_TRUE(a.admit(at("192.0.2.1", 1001)));
  EXPECT_FALSE(a.admit(at("192.0.2.1", 1002)));
  EXPECT_TRUE(a.admit(at("192.0.2.2", 1000)));
  EXPECT_TRUE(a.admit(at("2001:db8::1", 1000)));
  EXPECT_EQ(a.refused(), 1u);
  EXPECT_EQ(a.open_from(at("192.0.2.1", 9)), 2u);
  a.release(at("192.0.2.1", 1000));
  EXPECT_EQ(a.open_from(at("192.0.2.1", 9)), 1u);
  EXPECT_TRUE(a.admit(at("192.0.2.1", 1003)));
  a.release(at("192.0.2.1", 1001));
  a.release(at("192.0.2.1", 1003));
  a.release(at("192.0.2.1", 1003));  // one release too many changes nothing
  EXPECT_EQ(a.open_from(at("192.0.2.1", 9)), 0u);
}

TEST(StreamAdmission, ZeroMeansNoLimit) {
  stream_admission a;
  for (std::uint16_t p = 1; p <= 1000; ++p) EXPECT_TRUE(a.admit(at("192.0.2.1", p)));
  EXPECT_EQ(a.refused(), 0u);
  EXPECT_EQ(a.open_from(at("192.0.2.1", 0)), 1000u);
}

}  // namespace
}  // namespace turnpike::server::net
