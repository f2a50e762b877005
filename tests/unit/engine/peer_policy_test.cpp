// SPDX-License-Identifier: Apache-2.0
// Peer policy: the default deny table, every encoding of an IPv4 address inside IPv6,
// allowed/denied lists in coturn range form and CIDR, and the server's own addresses.
#include <gtest/gtest.h>

#include "server/engine/peer_policy.hpp"

namespace turnpike::server::engine {
namespace {

namespace p = turnpike::protocol;

p::transport_address ip(const char* s, std::uint16_t port = 5000) {
  return *p::transport_address::parse_ip(s, port);
}

TEST(PeerPolicy, DefaultDenyTable) {
  const peer_policy policy{{}};
  for (const char* denied : {"127.0.0.1",
                             "127.255.0.9",
                             "0.0.0.0",
                             "0.1.2.3",
                             "10.1.2.3",
                             "100.64.0.1",
                             "100.127.255.254",
                             "169.254.169.254",
                             "172.16.0.1",
                             "172.31.255.255",
                             "192.168.1.1",
                             "224.0.0.1",
                             "239.255.255.250",
                             "240.0.0.1",
                             "255.255.255.255",
                             "::",
                             "::1",
                             "fe80::1",
                             "fc00::1",
                             "fd12:3456::1",
                             "ff02::1",
                             "192.0.0.8",
                             "64:ff9b:1::a00:1",                         // local-use NAT64
                             "2002:7f00:1::1",                           // 6to4
                             "2001:0:4136:e378:8000:63bf:80ff:fffe"}) {  // Teredo
    EXPECT_FALSE(policy.permits_ip(ip(denied))) << denied;
    EXPECT_FALSE(policy.permits(ip(denied))) << denied;
  }
  for (const char* allowed : {"8.8.8.8", "1.1.1.1", "172.32.0.1", "100.128.0.1", "192.169.0.1",
                              "2606:4700::1111", "2a00:1450::1"}) {
    EXPECT_TRUE(policy.permits_ip(ip(allowed))) << allowed;
    EXPECT_TRUE(policy.permits(ip(allowed))) << allowed;
  }
}

TEST(PeerPolicy, Ipv4InsideIpv6IsCheckedAsIpv4) {
  const peer_policy policy{{}};
  for (const char* hidden :
       {"::ffff:127.0.0.1", "::ffff:10.0.0.1", "::ffff:169.254.169.254", "::127.0.0.1",
        "::10.0.0.1", "64:ff9b::127.0.0.1", "64:ff9b::a9fe:a9fe", "64:ff9b::192.168.0.1"}) {
    EXPECT_FALSE(policy.permits_ip(ip(hidden))) << hidden;
  }
  EXPECT_TRUE(policy.permits_ip(ip("::ffff:8.8.8.8")));
  EXPECT_TRUE(policy.permits_ip(ip("64:ff9b::8.8.8.8")));
  const auto c = peer_policy::canonical(ip("::ffff:1.2.3.4", 77));
  EXPECT_EQ(c.to_string(), "1.2.3.4:77");
  EXPECT_EQ(peer_policy::canonical(ip("::1")).to_string(), "[::1]:5000");
}

TEST(PeerPolicy, LoopbackMulticastSwitchesAndLists) {
  peer_policy_options o;
  o.allow_loopback = true;
  o.allowed = {*p::parse_ip_range("10.1.0.0/16"), *p::parse_ip_range("192.168.5.5")};
  o.denied = {*p::parse_ip_range("8.8.8.0-8.8.8.255"), *p::parse_ip_range("10.1.2.0/24")};
  const peer_policy policy(o);
  EXPECT_TRUE(policy.permits_ip(ip("127.0.0.1")));
  EXPECT_TRUE(policy.permits_ip(ip("::1")));
  EXPECT_TRUE(policy.permits_ip(ip("::ffff:127.0.0.1")));
  EXPECT_TRUE(policy.permits_ip(ip("10.1.2.3")));  // allowed wins over denied
  EXPECT_TRUE(policy.permits_ip(ip("192.168.5.5")));
  EXPECT_FALSE(policy.permits_ip(ip("192.168.5.6")));
  EXPECT_FALSE(policy.permits_ip(ip("8.8.8.8")));
  EXPECT_TRUE(policy.permits_ip(ip("8.8.9.8")));
  EXPECT_FALSE(policy.permits_ip(ip("224.0.0.1")));
}

TEST(PeerPolicy, OwnAddresses) {
  peer_policy_options o;
  o.allow_loopback = true;
  o.listening = {ip("127.0.0.1", 3478), ip("203.0.113.10", 3478)};
  o.own_ips = {ip("203.0.113.10", 0), ip("127.0.0.1", 0)};
  o.relay_min_port = 49152;
  o.relay_max_port = 65535;
  o.allowed = {*p::parse_ip_range("203.0.113.0/24")};  // even when explicitly allowed
  const peer_policy policy(o);
  EXPECT_FALSE(policy.permits(ip("127.0.0.1", 3478)));  // our listener
  EXPECT_FALSE(policy.permits(ip("::ffff:127.0.0.1", 3478)));
  EXPECT_TRUE(policy.permits(ip("127.0.0.1", 3480)));      // loopback peer (tests)
  EXPECT_FALSE(policy.permits(ip("203.0.113.10", 3478)));  // our listener
  EXPECT_FALSE(policy.permits(ip("203.0.113.10", 6379)));  // something else on the host
  EXPECT_TRUE(policy.permits(ip("203.0.113.10", 50000)));  // another client's relay
  EXPECT_TRUE(policy.permits_ip(ip("203.0.113.10")));      // a permission is IP-only
}

TEST(PeerPolicy, RangeParsing) {
  EXPECT_TRUE(p::parse_ip_range("1.2.3.4"));
  EXPECT_TRUE(p::parse_ip_range("1.2.3.4-1.2.3.4"));
  EXPECT_TRUE(p::parse_ip_range("fe80::/10"));
  EXPECT_FALSE(p::parse_ip_range("1.2.3.9-1.2.3.4"));
  EXPECT_FALSE(p::parse_ip_range("1.2.3.4-::1"));
  EXPECT_FALSE(p::parse_ip_range("1.2.3.4/33"));
  EXPECT_FALSE(p::parse_ip_range("1.2.3.4/"));
  EXPECT_FALSE(p::parse_ip_range("1.2.3.4/x"));
  EXPECT_FALSE(p::parse_ip_range("host"));
  const auto r = *p::parse_ip_range("10.0.0.0/8");
  EXPECT_EQ(r.last.ip_string(), "10.255.255.255");
}

}  // namespace
}  // namespace turnpike::server::engine
