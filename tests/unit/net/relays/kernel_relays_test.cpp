// SPDX-License-Identifier: Apache-2.0
// The kernel relay's programs (XDP and TC, each test for both) under BPF_PROG_TEST_RUN, over
// crafted frames: both directions in IPv4 and IPv6, and client to client through two of our
// relayed addresses, relayed with the exact bytes expected (addresses, ports, lengths, TTL,
// DF, checksums checked as a receiver checks them, ChannelData header stripped, prepended or
// swapped), and everything else left untouched for user space with its reason counted:
// truncated headers, a lying or padded ChannelData length, IP options, fragments, IPv6
// extension headers, link-layer padding, an unknown channel, a peer port without a channel,
// an expired entry, a removed one. Counters per allocation. Needs CAP_BPF and CAP_NET_ADMIN
// (root); skipped without them.
#include "server/net/relays/kernel_relays.hpp"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <unistd.h>

#include <numeric>

#include "server/net/relays/relay_mux.hpp"
#include "support/checksum.hpp"

namespace turnpike::server::net {
namespace {

using namespace std::chrono_literals;
using test::be16;
using bytes = std::vector<std::uint8_t>;

constexpr int xdp_pass = 2;
constexpr int tc_ok = 0;
constexpr int tc_next = -1;

protocol::transport_address at(const char* ip, std::uint16_t port) {
  return *protocol::transport_address::parse_ip(ip, port);
}

// An Ethernet frame (zero MACs, as on loopback) carrying `payload` from `from` to `to`, with
// valid IP and UDP checksums.
bytes frame(const protocol::transport_address& from, const protocol::transport_address& to,
            const bytes& payload) {
  const bool v4 = from.family == protocol::address_family::ipv4;
  bytes f(14, 0);
  f[12] = v4 ? 0x08 : 0x86;
  f[13] = v4 ? 0x00 : 0xDD;
  std::uint8_t h[48];
  const auto n = build_udp_headers(from, to, payload.data(), payload.size(), true, h);
  f.insert(f.end(), h, h + n);
  f.insert(f.end(), payload.begin(), payload.end());
  return f;
}

bytes channel_data(std::uint16_t channel, const bytes& data) {
  bytes out(4 + data.size());
  out[0] = static_cast<std::uint8_t>(channel >> 8);
  out[1] = static_cast<std::uint8_t>(channel);
  out[2] = static_cast<std::uint8_t>(data.size() >> 8);
  out[3] = static_cast<std::uint8_t>(data.size());
  std::copy(data.begin(), data.end(), out.begin() + 4);
  return out;
}

bytes counting(std::size_t n, std::uint8_t first = 1) {
  bytes b(n);
  std::iota(b.begin(), b.end(), first);
  return b;
}

// Checks that `f` is an Ethernet frame from `from` to `to` whose UDP payload is `payload`,
// with the header fields the program writes and checksums a receiver accepts.
void expect_datagram(const bytes& f, const protocol::transport_address& from,
                     const protocol::transport_address& to, const bytes& payload) {
  const bool v4 = from.family == protocol::address_family::ipv4;
  const std::size_t ip_len = v4 ? 20 : 40;
  ASSERT_EQ(f.size(), 14 + ip_len + 8 + payload.size());
  const std::uint8_t* ip = f.data() + 14;
  const std::uint8_t* udp = ip + ip_len;
  const std::size_t addr_len = v4 ? 4 : 16;
  const std::uint8_t* src = v4 ? ip + 12 : ip + 8;
  const std::uint8_t* dst = src + addr_len;
  EXPECT_TRUE(std::equal(src, src + addr_len, from.ip.data()));
  EXPECT_TRUE(std::equal(dst, dst + addr_len, to.ip.data()));
  if (v4) {
    EXPECT_EQ(ip[0], 0x45);
    EXPECT_EQ(be16(ip + 2), 20 + 8 + payload.size());
    EXPECT_EQ(ip[6], 0x40);  // DF, not a fragment
    EXPECT_EQ(ip[7], 0);
    EXPECT_EQ(ip[8], 64);  // TTL
    EXPECT_EQ(ip[9], IPPROTO_UDP);
    EXPECT_EQ(test::ipv4_header_sum(ip), 0xffffu);
  } else {
    EXPECT_EQ(ip[0] >> 4, 6);
    EXPECT_EQ(be16(ip + 4), 8 + payload.size());
    EXPECT_EQ(ip[6], IPPROTO_UDP);
    EXPECT_EQ(ip[7], 64);  // hop limit
  }
  EXPECT_EQ(be16(udp), from.port);
  EXPECT_EQ(be16(udp + 2), to.port);
  EXPECT_EQ(be16(udp + 4), 8 + payload.size());
  EXPECT_EQ(test::receiver_sum(src, dst, addr_len, udp, 8 + payload.size()), 0xffffu);
  EXPECT_TRUE(std::equal(payload.begin(), payload.end(), udp + 8));
}

// The parameter: the TC program (true) or the XDP one.
class KernelRelay : public ::testing::TestWithParam<bool> {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "loading BPF programs needs CAP_BPF and CAP_NET_ADMIN";
    kernel_relays::limits l{1024, 64};
    l.hook = GetParam() ? kernel_hook::tc : kernel_hook::any;
    relays_ = std::make_unique<kernel_relays>(l);
  }
  // The verdict that sends a rewritten frame up the stack.
  static int pass() { return GetParam() ? tc_ok : xdp_pass; }
  // The verdict for a frame left untouched: XDP passes it; TC hands it to the interface's next
  // program (tcx's "next").
  static int untouched() { return GetParam() ? tc_next : xdp_pass; }
  // A channel on loopback addresses (all local, so a relayed frame goes up the stack).
  engine::kernel_route channel(bool v6 = false) {
    engine::kernel_route c;
    c.client.remote = v6 ? at("::1", 40001) : at("127.0.0.2", 40001);
    c.client.local = v6 ? at("::1", 3478) : at("127.0.0.1", 3478);
    c.relayed = v6 ? at("::1", 50002) : at("127.0.0.3", 50002);
    c.peer = v6 ? at("::1", 6003) : at("127.0.0.4", 6003);
    c.channel = 0x4001;
    c.expires = std::chrono::steady_clock::now() + 60s;
    c.slot = *relays_->take_slot();
    return c;
  }
  // The frame must come back as it went in, with `why` counted once more.
  void expect_untouched(const bytes& in, int why) {
    const auto before = relays_->outcomes()[static_cast<std::size_t>(why)];
    const auto r = relays_->run(in);
    EXPECT_EQ(r.verdict, untouched());
    EXPECT_EQ(r.frame, in);
    EXPECT_EQ(relays_->outcomes()[static_cast<std::size_t>(why)], before + 1);
  }
  std::unique_ptr<kernel_relays> relays_;
};

TEST_P(KernelRelay, LoadsUnderThisKernelsVerifier) {
  EXPECT_EQ(relays_->outcomes(), kernel_outcomes{});
}

TEST_P(KernelRelay, ClientToPeerStripsTheHeaderAndRewritesBothFamilies) {
  for (const bool v6 : {false, true}) {
    for (const std::size_t size : {0u, 1u, 100u, 1201u}) {
      SCOPED_TRACE(std::to_string(size) + (v6 ? " IPv6" : " IPv4"));
      const auto c = channel(v6);
      ASSERT_TRUE(relays_->install(c));
      const bytes data = counting(size);
      const auto r =
          relays_->run(frame(c.client.remote, c.client.local, channel_data(c.channel, data)));
      EXPECT_EQ(r.verdict, pass());  // a local peer: up the stack
      expect_datagram(r.frame, c.relayed, c.peer, data);
      EXPECT_EQ(relays_->traffic(c.slot), (engine::allocation_traffic{1, size, 0, 0}));
      relays_->remove(c);
      relays_->give_slot(c.slot);
    }
  }
  EXPECT_EQ(relays_->outcomes()[kernel::KR_RELAYED_TO_PEER], 8u);
}

TEST_P(KernelRelay, PeerToClientPrependsTheHeaderAndRewritesBothFamilies) {
  for (const bool v6 : {false, true}) {
    for (const std::size_t size : {0u, 3u, 160u, 1200u}) {
      SCOPED_TRACE(std::to_string(size) + (v6 ? " IPv6" : " IPv4"));
      const auto c = channel(v6);
      ASSERT_TRUE(relays_->install(c));
      const bytes data = counting(size, 9);
      const auto r = relays_->run(frame(c.peer, c.relayed, data));
      EXPECT_EQ(r.verdict, pass());
      expect_datagram(r.frame, c.client.local, c.client.remote, channel_data(c.channel, data));
      EXPECT_EQ(relays_->traffic(c.slot), (engine::allocation_traffic{0, 0, 1, size}));
      relays_->remove(c);
      relays_->give_slot(c.slot);
    }
  }
  EXPECT_EQ(relays_->outcomes()[kernel::KR_RELAYED_TO_CLIENT], 8u);
}

// Two clients of ours, each with a channel to the other's relayed address (a relay-only call
// through one server): a client's ChannelData goes straight to the other client with the
// other channel's number, both legs counted, in both families.
TEST_P(KernelRelay, ClientToClientThroughTwoRelaysSwapsTheChannel) {
  for (const bool v6 : {false, true}) {
    SCOPED_TRACE(v6 ? "IPv6" : "IPv4");
    auto a = channel(v6);
    auto b = channel(v6);
    b.client.remote = v6 ? at("::1", 40009) : at("127.0.0.9", 40009);
    b.relayed = v6 ? at("::1", 50009) : at("127.0.0.10", 50009);
    b.channel = 0x4abc;
    a.peer = b.relayed;
    b.peer = a.relayed;
    ASSERT_TRUE(relays_->install(a));
    ASSERT_TRUE(relays_->install(b));
    const bytes data = counting(300, 5);
    const auto r =
        relays_->run(frame(a.client.remote, a.client.local, channel_data(a.channel, data)));
    EXPECT_EQ(r.verdict, pass());
    expect_datagram(r.frame, b.client.local, b.client.remote, channel_data(b.channel, data));
    EXPECT_EQ(relays_->traffic(a.slot), (engine::allocation_traffic{1, 300, 0, 0}));
    EXPECT_EQ(relays_->traffic(b.slot), (engine::allocation_traffic{0, 0, 1, 300}));
    // The other channel gone: the first leg only, up the stack to b's relayed address.
    relays_->remove(b);
    const auto one =
        relays_->run(frame(a.client.remote, a.client.local, channel_data(a.channel, data)));
    expect_datagram(one.frame, a.relayed, b.relayed, data);
    relays_->remove(a);
    relays_->give_slot(a.slot);
    relays_->give_slot(b.slot);
  }
}

// A checksum that holds only the pseudo-header's sum (its sender's offload completes it, as
// for a datagram a process of this machine sent, or several that GRO merged): TC rewrites it
// as such for a local destination; XDP, which cannot tell one datagram from several, leaves it
// to user space.
TEST_P(KernelRelay, AChecksumLeftToOffloadIsRewrittenAsSuchAtTcAndLeftAloneAtXdp) {
  const auto c = channel();
  ASSERT_TRUE(relays_->install(c));
  const bytes data = counting(64);
  bytes in = frame(c.peer, c.relayed, data);
  const auto pseudo = [](const bytes& f) {
    std::uint32_t sum = 17 + be16(f.data() + 14 + 20 + 4);
    for (int i = 0; i < 8; i += 2) sum += be16(f.data() + 14 + 12 + i);
    while (sum > 0xffff) sum = (sum & 0xffff) + (sum >> 16);
    return sum;
  };
  const auto partial = pseudo(in);
  in[14 + 20 + 6] = static_cast<std::uint8_t>(partial >> 8);
  in[14 + 20 + 7] = static_cast<std::uint8_t>(partial);
  if (!GetParam()) {
    expect_untouched(in, kernel::KR_NOT_HANDLED);
    return;
  }
  const auto r = relays_->run(in);
  ASSERT_EQ(r.frame.size(), in.size() + 4);
  EXPECT_EQ(be16(r.frame.data() + 14 + 20 + 6), pseudo(r.frame));
  EXPECT_EQ(be16(r.frame.data() + 14 + 20 + 4), 8 + 4 + 64u);

  // To the peer the UDP header moves forward, past where the offload would complete the
  // checksum, and the stack checks it: IPv4 goes without one (0).
  bytes cd = frame(c.client.remote, c.client.local, channel_data(c.channel, data));
  const auto cd_partial = pseudo(cd);
  cd[14 + 20 + 6] = static_cast<std::uint8_t>(cd_partial >> 8);
  cd[14 + 20 + 7] = static_cast<std::uint8_t>(cd_partial);
  const auto p = relays_->run(cd);
  ASSERT_EQ(p.frame.size(), cd.size() - 4);
  EXPECT_EQ(be16(p.frame.data() + 14 + 20 + 6), 0u);
  EXPECT_TRUE(std::equal(data.begin(), data.end(), p.frame.begin() + 14 + 20 + 8));
}

// IPv6 has no "no checksum": a checksum left to offload on its way to the peer (the header
// moving forward, as above) stays with user space.
TEST_P(KernelRelay, AnIpv6ChecksumLeftToOffloadGoesToUserSpaceOnItsWayToThePeer) {
  const auto c = channel(true);
  ASSERT_TRUE(relays_->install(c));
  bytes in = frame(c.client.remote, c.client.local, channel_data(c.channel, counting(64)));
  // The pseudo-header's sum: the addresses (::1 twice), the UDP length and protocol 17.
  std::uint32_t sum = 17 + be16(in.data() + 14 + 40 + 4) + 2;
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >> 16);
  in[14 + 40 + 6] = static_cast<std::uint8_t>(sum >> 8);
  in[14 + 40 + 7] = static_cast<std::uint8_t>(sum);
  expect_untouched(in, kernel::KR_NOT_HANDLED);
}

TEST_P(KernelRelay, AZeroIpv4ChecksumStaysZero) {
  const auto c = channel();
  ASSERT_TRUE(relays_->install(c));
  bytes in = frame(c.client.remote, c.client.local, channel_data(c.channel, counting(20)));
  in[14 + 20 + 6] = 0;
  in[14 + 20 + 7] = 0;
  const auto r = relays_->run(in);
  ASSERT_EQ(r.frame.size(), in.size() - 4);
  EXPECT_EQ(be16(r.frame.data() + 14 + 20 + 6), 0u);
}

TEST_P(KernelRelay, WhatItDoesNotFullyHandleGoesToUserSpaceUntouched) {
  const auto c = channel();
  ASSERT_TRUE(relays_->install(c));
  const auto c6 = channel(true);
  ASSERT_TRUE(relays_->install(c6));
  const bytes data = counting(100);
  const bytes good = frame(c.client.remote, c.client.local, channel_data(c.channel, data));

  // Truncated: the UDP header ends early. (The kernel refuses to test-run a TC program over a
  // shorter IPv4 header; the XDP program checks it the same way.)
  expect_untouched(bytes(good.begin(), good.begin() + 38), kernel::KR_NOT_OURS);
  {
    // The frame ends before the IP length says (and the UDP length with it).
    bytes cut(good.begin(), good.end() - 10);
    expect_untouched(cut, kernel::KR_NOT_HANDLED);
  }
  {
    // A ChannelData length that lies (longer than the datagram), and one with padding.
    bytes lying = channel_data(c.channel, data);
    lying[3] = 200;
    expect_untouched(frame(c.client.remote, c.client.local, lying), kernel::KR_NOT_HANDLED);
    bytes padded = channel_data(c.channel, data);
    padded[3] = 98;
    expect_untouched(frame(c.client.remote, c.client.local, padded), kernel::KR_NOT_HANDLED);
  }
  {
    // IP options: IHL 6 with four option bytes (NOPs).
    bytes opt(good.begin(), good.begin() + 34);
    opt.insert(opt.end(), {1, 1, 1, 1});
    opt.insert(opt.end(), good.begin() + 34, good.end());
    opt[14] = 0x46;
    opt[14 + 3] = static_cast<std::uint8_t>(opt[14 + 3] + 4);
    expect_untouched(opt, kernel::KR_NOT_HANDLED);
  }
  {
    // Fragments: more-fragments set, and a later fragment.
    bytes first = good;
    first[14 + 6] |= 0x20;
    expect_untouched(first, kernel::KR_NOT_HANDLED);
    bytes later = good;
    later[14 + 7] = 0x10;
    expect_untouched(later, kernel::KR_NOT_HANDLED);
  }
  {
    // Link-layer padding after the IP datagram.
    bytes trailer = good;
    trailer.insert(trailer.end(), 6, 0);
    expect_untouched(trailer, kernel::KR_NOT_HANDLED);
  }
  {
    // IPv6 with a hop-by-hop extension header.
    bytes ext = frame(c6.client.remote, c6.client.local, channel_data(c6.channel, data));
    ext[14 + 6] = 0;
    expect_untouched(ext, kernel::KR_NOT_HANDLED);
  }
  // An unknown channel, a STUN message, a peer port without a channel, another client.
  expect_untouched(frame(c.client.remote, c.client.local, channel_data(0x4002, data)),
                   kernel::KR_NOT_OURS);
  bytes stun(20, 0);
  stun[1] = 1;
  expect_untouched(frame(c.client.remote, c.client.local, stun), kernel::KR_NOT_OURS);
  expect_untouched(frame(at("127.0.0.4", 6004), c.relayed, data), kernel::KR_NOT_OURS);
  expect_untouched(frame(at("127.0.0.2", 40002), c.client.local, channel_data(c.channel, data)),
                   kernel::KR_NOT_OURS);
  // Not UDP, not IP.
  bytes arp(42, 0);
  arp[12] = 0x08;
  arp[13] = 0x06;
  expect_untouched(arp, kernel::KR_NOT_OURS);
  EXPECT_EQ(relays_->traffic(c.slot), engine::allocation_traffic{});
}

TEST_P(KernelRelay, AnExpiredEntryIsLeftToUserSpaceAndARemovedOneIsGone) {
  auto c = channel();
  c.expires = std::chrono::steady_clock::now() - 1ms;
  ASSERT_TRUE(relays_->install(c));
  const bytes data = counting(50);
  expect_untouched(frame(c.client.remote, c.client.local, channel_data(c.channel, data)),
                   kernel::KR_EXPIRED);
  expect_untouched(frame(c.peer, c.relayed, data), kernel::KR_EXPIRED);
  // Refreshed: relayed again.
  c.expires = std::chrono::steady_clock::now() + 60s;
  ASSERT_TRUE(relays_->install(c));
  EXPECT_EQ(relays_->run(frame(c.peer, c.relayed, data)).frame.size(), 14 + 20 + 8 + 4 + 50u);
  relays_->remove(c);
  expect_untouched(frame(c.client.remote, c.client.local, channel_data(c.channel, data)),
                   kernel::KR_NOT_OURS);
  expect_untouched(frame(c.peer, c.relayed, data), kernel::KR_NOT_OURS);
}

TEST_P(KernelRelay, MixedFamiliesAreNotInstalledAndCounterSlotsAreZeroedForTheNextOwner) {
  auto c = channel();
  c.relayed = at("::1", 50002);
  c.peer = at("::1", 6003);
  EXPECT_FALSE(relays_->install(c));

  const auto d = channel();
  ASSERT_TRUE(relays_->install(d));
  relays_->run(frame(d.peer, d.relayed, counting(10)));
  EXPECT_EQ(relays_->traffic(d.slot).sent_packets, 1u);
  relays_->remove(d);
  relays_->give_slot(d.slot);
  // 64 slots: take them all; the one given back comes zeroed.
  std::vector<std::uint32_t> taken;
  while (auto s = relays_->take_slot()) taken.push_back(*s);
  EXPECT_EQ(taken.size(), 64u - 1u);  // c's slot is still out
  for (const auto s : taken) EXPECT_EQ(relays_->traffic(s), engine::allocation_traffic{});
}

INSTANTIATE_TEST_SUITE_P(Hooks, KernelRelay, ::testing::Values(false, true),
                         [](const ::testing::TestParamInfo<bool>& i) {
                           return i.param ? "Tc" : "Xdp";
                         });

}  // namespace
}  // namespace turnpike::server::net
