// SPDX-License-Identifier: Apache-2.0
// kernel-relay against the real binary on loopback (at TC ingress on lo): ChannelData
// both ways relayed by the kernel (the server's own packet count stays at its STUN messages,
// the kernel's counters match what was sent), and the kernel stops at once when the channel
// expires (client data dropped, the peer's data back in a Data indication from user space),
// when the permission expires and when the allocation is deleted; a peer without a
// permission never gets through. Between network namespaces over a veth pair, both hooks
// (XDP and TC), with every checksum checked. Needs root (CAP_BPF and CAP_NET_ADMIN); skipped
// without. Each test runs in a network namespace of its own (support/netns.hpp).
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <thread>

#include "protocol/channel_data.hpp"
#include "support/http.hpp"
#include "support/netns.hpp"
#include "support/process.hpp"
#include "support/sinks.hpp"
#include "support/turn_session.hpp"
#include "support/uclient.hpp"

namespace turnpike::test {
namespace {

using namespace std::chrono_literals;

// The UDP checksum errors (IPv4 and IPv6) counted in this thread's network namespace, or in
// the one `in_ns` (a command prefix: nsenter) runs in.
std::uint64_t udp_checksum_errors(const std::string& in_ns = "") {
  process p({"sh", "-c", in_ns + "cat /proc/net/snmp /proc/net/snmp6"});
  p.wait_exit();
  std::uint64_t n = 0;
  const std::string out = p.output();
  // "Udp: InDatagrams NoPorts InErrors OutDatagrams RcvbufErrors SndbufErrors InCsumErrors"
  const std::regex v4(R"(Udp: (\d+) (\d+) (\d+) (\d+) (\d+) (\d+) (\d+))");
  std::smatch m;
  if (std::regex_search(out, m, v4)) n += std::stoull(m[7]);
  const std::regex v6(R"(Udp6InCsumErrors\s+(\d+))");
  if (std::regex_search(out, m, v6)) n += std::stoull(m[1]);
  return n;
}

class KernelRelayTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "kernel-relay needs CAP_BPF and CAP_NET_ADMIN";
    // An interface holds one XDP program: each test's server gets a loopback of its own, so
    // tests running beside each other do not contend for it.
    netns_.emplace();
  }
  void TearDown() override {
    server_.reset();  // before the namespace it runs in goes
    netns_.reset();
  }
  // A server with kernel-relay and the given lifetimes (seconds), on `ip` (run through
  // `prefix`: nsenter into a namespace, say).
  void start(int channel_lifetime, int permission_lifetime, const std::string& ip = "127.0.0.1",
             std::vector<std::string> prefix = {}, const std::vector<std::string>& extra = {}) {
    std::vector<std::string> argv = std::move(prefix);
    for (const std::string& a : {std::string(TURNPIKE_BINARY),
                                 std::string("-n"),
                                 std::string("-L"),
                                 ip,
                                 std::string("-p"),
                                 std::string("0"),
                                 std::string("-u"),
                                 std::string("u:p"),
                                 std::string("-r"),
                                 std::string("test"),
                                 std::string("--allow-loopback-peers"),
                                 std::string("--relay-threads"),
                                 std::string("1"),
                                 std::string("--kernel-relay"),
                                 std::string("--channel-lifetime"),
                                 std::to_string(channel_lifetime),
                                 std::string("--permission-lifetime"),
                                 std::to_string(permission_lifetime),
                                 std::string("--no-tls"),
                                 std::string("--no-dtls")}) {
      argv.push_back(a);
    }
    argv.insert(argv.end(), {"--kernel-relay-mode", mode_});
    argv.insert(argv.end(), extra.begin(), extra.end());
    server_ = std::make_unique<process>(argv);
    // IPv6 addresses appear in brackets ([2001:db8::1]:port).
    const std::string shown = ip.find(':') != std::string::npos ? "\\[" + ip + "\\]" : ip;
    const auto port = server_->wait_for(std::regex("listening udp " + shown + R"(:(\d+))"));
    ASSERT_TRUE(port) << server_->output();
    ASSERT_TRUE(server_->wait_for(std::regex("iceServers"))) << server_->output();
    port_ = static_cast<std::uint16_t>(std::stoi((*port)[1]));
  }
  // Stops the server and returns its totals: user-space packets and kernel-relayed packets
  // each way.
  std::array<std::uint64_t, 3> stop() {
    server_->signal(SIGTERM);
    EXPECT_EQ(server_->wait_exit(), 0) << server_->output();
    const auto line = server_->wait_for(
        std::regex(R"(stopped: packets=(\d+) .* kernel_relayed=(\d+)/(\d+))"), 1s);
    EXPECT_TRUE(line) << server_->output();
    if (!line) return {};
    return {std::stoull((*line)[1]), std::stoull((*line)[2]), std::stoull((*line)[3])};
  }
  protocol::transport_address server() const {
    return *protocol::transport_address::parse_ip("127.0.0.1", port_);
  }
  static void send_from(const udp_sink& peer, const protocol::transport_address& to,
                        const bytes& data) {
    socklen_t len = 0;
    const auto ss = to_sockaddr(to, len);
    ASSERT_EQ(::sendto(peer.fd(), data.data(), data.size(), 0,
                       reinterpret_cast<const sockaddr*>(&ss), len),
              static_cast<ssize_t>(data.size()));
  }
  static bytes channel_data(std::uint16_t channel, const bytes& data) {
    bytes out(4 + data.size());
    protocol::write_channel_data(out, channel, data, false);
    return out;
  }
  // What the client receives within the wait: ChannelData frames and anything else apart.
  static std::pair<std::vector<bytes>, int> client_receives(turn_session& s, int wait_ms = 300) {
    std::vector<bytes> frames;
    int other = 0;
    while (auto got = s.client().receive(wait_ms)) {
      if (protocol::looks_like_channel_data(*got)) {
        frames.push_back(*got);
      } else {
        ++other;
      }
    }
    return {frames, other};
  }

  std::optional<private_netns> netns_;
  std::unique_ptr<process> server_;
  std::uint16_t port_ = 0;
  // The hook: auto, which is TC on loopback (no XDP in its driver): every datagram there comes
  // from a process of this machine with its checksum left to offload, which XDP leaves to
  // user space (kernel_relay.bpf.c).
  std::string mode_ = "auto";
};

TEST_F(KernelRelayTest, BoundChannelsAreRelayedByTheKernelBothWaysUntilTheChannelExpires) {
  start(3, 300);
  EXPECT_TRUE(server_->wait_for(std::regex(R"(relayed in the kernel on lo \(tc\))")))
      << server_->output();
  udp_sink peer;
  turn_session s(SOCK_DGRAM, server(), "u", "p");
  const auto allocated = s.allocate();
  ASSERT_EQ(allocated.code, 0);
  const auto relayed = relayed_of(allocated);
  constexpr int rounds = 50;
  for (int i = 0; i < rounds; ++i) {
    // Bound, and the binding refreshed every ten rounds: a busy machine never outlasts it.
    if (i % 10 == 0) {
      ASSERT_EQ(s.channel_bind(0x4000, peer.address()).code, 0);
    }
    const bytes data(1000, static_cast<std::uint8_t>(i));
    s.client().send_raw(channel_data(0x4000, data));
    const auto at_peer = peer.next();
    ASSERT_TRUE(at_peer) << i;
    EXPECT_EQ(*at_peer, data);
    send_from(peer, relayed, data);
    const auto back = s.client().receive(1000);
    ASSERT_TRUE(back) << i;
    EXPECT_EQ(*back, channel_data(0x4000, data));
  }
  // The channel expires 3 s after its last refresh: client data is dropped at once, and the
  // peer's comes back from user space in a Data indication (the permission lives on).
  ASSERT_EQ(s.channel_bind(0x4000, peer.address()).code, 0);
  const auto bound_at = std::chrono::steady_clock::now();
  std::this_thread::sleep_until(bound_at + 3s + 200ms);
  s.client().send_raw(channel_data(0x4000, bytes(100, 7)));
  EXPECT_TRUE(peer.received(500ms).empty());
  send_from(peer, relayed, bytes(100, 8));
  const auto [frames, indications] = client_receives(s);
  EXPECT_TRUE(frames.empty());
  EXPECT_EQ(indications, 1);
  const auto [packets, to_peer, to_client] = stop();
  EXPECT_EQ(to_peer, static_cast<std::uint64_t>(rounds));
  EXPECT_EQ(to_client, static_cast<std::uint64_t>(rounds));
  // User space saw the STUN exchange and the two datagrams after expiry, none of the rest.
  EXPECT_LT(packets, 20u);
}

// Two clients of this server, one (a) with a channel to the other's relayed address, the
// other (b) with a permission only: a's ChannelData goes to b's relayed address in the kernel
// and on to b in a Data indication from user space; with b's channel back bound too, the
// kernel carries it client to client, both legs counted. Every size arrives, small ones too
// (which the stack checks even on loopback).
TEST_F(KernelRelayTest, ClientToClientArrivesWithAndWithoutAChannelBack) {
  start(600, 300);
  turn_session a(SOCK_DGRAM, server(), "u", "p");
  turn_session b(SOCK_DGRAM, server(), "u", "p");
  const auto ra = a.allocate();
  const auto rb = b.allocate();
  ASSERT_EQ(ra.code, 0);
  ASSERT_EQ(rb.code, 0);
  const auto relay_a = relayed_of(ra);
  const auto relay_b = relayed_of(rb);
  ASSERT_EQ(b.create_permission(relay_a).code, 0);
  ASSERT_EQ(a.channel_bind(0x4000, relay_b).code, 0);
  const std::vector<std::size_t> sizes{1, 20, 60, 64, 72, 96, 100, 500, 1200};
  for (const auto size : sizes) {
    SCOPED_TRACE(size);
    const bytes data(size, static_cast<std::uint8_t>(size));
    a.client().send_raw(channel_data(0x4000, data));
    const auto got = b.client().receive(1000);
    ASSERT_TRUE(got);
    const auto m = protocol::message_view::parse(*got);
    ASSERT_TRUE(m && m->is(protocol::method::data, protocol::msg_class::indication));
    const auto d = m->find(protocol::attr::data);
    ASSERT_TRUE(d);
    EXPECT_EQ(bytes(d->value.begin(), d->value.end()), data);
  }
  ASSERT_EQ(b.channel_bind(0x4001, relay_a).code, 0);
  for (const auto size : sizes) {
    SCOPED_TRACE(size);
    const bytes data(size, static_cast<std::uint8_t>(size + 1));
    a.client().send_raw(channel_data(0x4000, data));
    const auto got = b.client().receive(1000);
    ASSERT_TRUE(got);
    EXPECT_EQ(*got, channel_data(0x4001, data));
    b.client().send_raw(channel_data(0x4001, data));
    const auto back = a.client().receive(1000);
    ASSERT_TRUE(back);
    EXPECT_EQ(*back, channel_data(0x4000, data));
  }
  const auto [packets, to_peer, to_client] = stop();
  EXPECT_EQ(to_peer, 3 * sizes.size());
  EXPECT_EQ(to_client, 2 * sizes.size());
  (void)packets;
  // Loopback leaves most checksums unchecked, not all: datagrams of up to 76 bytes are checked
  // on arrival, whatever the skb says.
  EXPECT_EQ(udp_checksum_errors(), 0u);
}

// Two network namespaces of the test's own joined by a veth pair with checksum offload off on
// both ends, so that every UDP checksum is computed by the sender and checked by the
// receiver: the server's side carries one address, the other side a client's and a peer's
// (TEST-NET-2 and 2001:db8::/32 addresses, routed nowhere else). Forwarding is on in the
// server's namespace: the kernel answers the program's FIB lookups only there.
class veth_pair {
 public:
  veth_pair() {
    const auto id = std::to_string(::getpid() % 100000);
    const unsigned block = 8 * (static_cast<unsigned>(::getpid()) % 30);
    server_ns_ = "tpkrs" + id;
    client_ns_ = "tpkrc" + id;
    const std::string sif = "tpkrs" + id;
    const std::string cif = "tpkrc" + id;
    const std::string net = "198.51.100.";
    server_ip_ = net + std::to_string(block + 1);
    client_ip_ = net + std::to_string(block + 2);
    peer_ip_ = net + std::to_string(block + 3);
    const std::string group = std::to_string(::getpid() % 10000);  // one IPv6 group: 4 digits
    server_ip6_ = "2001:db8:" + group + "::1";
    client_ip6_ = "2001:db8:" + group + "::2";
    peer_ip6_ = "2001:db8:" + group + "::3";
    const std::string in_s = in_netns_command(server_ns_);
    const std::string in_c = in_netns_command(client_ns_);
    ok_ = run("ip netns add " + server_ns_) && run("ip netns add " + client_ns_) &&
          run("ip link add " + sif + " type veth peer name " + cif) &&
          run("ip link set " + sif + " netns " + server_ns_) &&
          run("ip link set " + cif + " netns " + client_ns_) &&
          run(in_s + "ip addr add " + server_ip_ + "/29 dev " + sif) &&
          run(in_s + "ip addr add " + server_ip6_ + "/64 dev " + sif + " nodad") &&
          run(in_c + "ip addr add " + client_ip_ + "/29 dev " + cif) &&
          run(in_c + "ip addr add " + peer_ip_ + "/29 dev " + cif) &&
          run(in_c + "ip addr add " + client_ip6_ + "/64 dev " + cif + " nodad") &&
          run(in_c + "ip addr add " + peer_ip6_ + "/64 dev " + cif + " nodad") &&
          run(in_s + "ethtool -K " + sif + " tx off rx off >/dev/null") &&
          run(in_c + "ethtool -K " + cif + " tx off rx off >/dev/null") &&
          run(in_s + "sysctl -qw net.ipv4.conf.all.forwarding=1") &&
          run(in_s + "sysctl -qw net.ipv6.conf.all.forwarding=1") &&
          run(in_s + "ip link set " + sif + " up") && run(in_c + "ip link set " + cif + " up") &&
          run(in_s + "ip link set lo up") && run(in_c + "ip link set lo up");
  }
  ~veth_pair() {
    run("ip netns del " + server_ns_ + " 2>/dev/null");
    run("ip netns del " + client_ns_ + " 2>/dev/null");
  }
  veth_pair(const veth_pair&) = delete;
  veth_pair& operator=(const veth_pair&) = delete;
  bool ok() const noexcept { return ok_; }
  const std::string& failed() const noexcept { return failed_; }
  std::string server_ns_, client_ns_;
  std::string server_ip_, client_ip_, peer_ip_, server_ip6_, client_ip6_, peer_ip6_;

  // The UDP checksum errors the client's namespace has counted (IPv4 and IPv6).
  std::uint64_t checksum_errors() const {
    return udp_checksum_errors(in_netns_command(client_ns_));
  }

 private:
  bool run(const std::string& command) {
    if (std::system(command.c_str()) == 0) return true;
    failed_ = command;
    return false;
  }
  bool ok_ = false;
  std::string failed_;
};

TEST_F(KernelRelayTest, ChecksumsHoldOnAVethPairBothFamiliesBothHooks) {
  veth_pair net;
  if (!net.ok()) GTEST_SKIP() << "ip netns, veth or ethtool not available here: " << net.failed();
  // XDP in generic mode: native XDP_TX into a veth pair drops bursts when the other end's
  // ring is full (147 of 482 in one run, counted in ethtool's xdp_tx_errors); the rewriting
  // and its checksums are the same code in both modes.
  for (const auto& [mode, v6] : {std::pair{"generic", false}, std::pair{"generic", true},
                                 std::pair{"tc", false}, std::pair{"tc", true}}) {
    SCOPED_TRACE(std::string(mode) + (v6 ? " IPv6" : " IPv4"));
    mode_ = mode;
    const std::string server_ip = v6 ? net.server_ip6_ : net.server_ip_;
    const std::string peer_ip = v6 ? net.peer_ip6_ : net.peer_ip_;
    // 2001:db8::/32 is a documentation range, refused as a peer by default.
    start(600, 300, server_ip, in_netns(net.server_ns_), {"--allowed-peer-ip", peer_ip});
    const std::uint16_t peer_port = free_port();
    std::vector<std::string> peer_argv = in_netns(net.client_ns_);
    peer_argv.insert(peer_argv.end(),
                     {"turnutils_peer", "-L", peer_ip, "-p", std::to_string(peer_port)});
    process peer(peer_argv);
    ASSERT_TRUE(wait_udp_bound(peer.pid(), peer_port)) << peer.output();
    std::vector<std::string> client = in_netns(net.client_ns_);
    client.insert(
        client.end(),
        {"turnutils_uclient", "-u", "u", "-w", "p", "-p", std::to_string(port_), "-e", peer_ip,
         "-r", std::to_string(peer_port), "-n", "100", "-m", "2", "-l", "1001", server_ip});
    // uclient is run as a program in the namespace: run_uclient adds its own name.
    process c(client);
    c.wait_exit(60s);
    const std::string out = c.output();
    EXPECT_NE(out.find("start_mclient: tot_send_msgs=200, tot_recv_msgs=200"), std::string::npos)
        << out;
    EXPECT_NE(out.find("Total lost packets 0 (0.000000%)"), std::string::npos) << out;
    // The kernel carried them all but the first datagram to a neighbour not yet resolved
    // (the FIB answers "no neighbour": user space sends it, and the kernel learns the MAC).
    const auto [packets, to_peer, to_client] = stop();
    EXPECT_GE(to_peer, 198u);
    EXPECT_GE(to_client, 198u);
    EXPECT_LE(to_peer, 200u);
    EXPECT_LE(to_client, 200u);
    peer.signal(SIGTERM);
    peer.wait_exit();
  }
  EXPECT_EQ(net.checksum_errors(), 0u);
}

// coturn's client over channels with 1000-byte messages, its echo peer behind the relay:
// nothing lost, and the kernel carried every message both ways.
TEST_F(KernelRelayTest, UclientOverChannelsLosesNothingAndTheKernelCarriedIt) {
  start(600, 300, "127.0.0.1", {},
        {"--prometheus", "--prometheus-address", "127.0.0.1", "--prometheus-port", "0"});
  const auto metrics = server_->wait_for(std::regex(R"(metrics on http://127\.0\.0\.1:(\d+)/)"));
  ASSERT_TRUE(metrics) << server_->output();
  const std::uint16_t peer_port = free_port();
  process peer({"turnutils_peer", "-L", "127.0.0.1", "-p", std::to_string(peer_port)});
  ASSERT_TRUE(wait_udp_bound(peer.pid(), peer_port)) << peer.output();
  const auto r =
      run_uclient({"-u", "u", "-w", "p", "-p", std::to_string(port_), "-e", "127.0.0.1", "-r",
                   std::to_string(peer_port), "-n", "100", "-m", "4", "-l", "1000", "127.0.0.1"});
  EXPECT_EQ(r.sent, 400) << r.output;
  EXPECT_EQ(r.received, 400) << r.output;
  EXPECT_TRUE(r.zero_loss) << r.output;
  // The metrics say so too: the program's own outcomes, and the kernel's share of the
  // relayed traffic (folded in when uclient deleted its allocations).
  const auto scraped = http_get(static_cast<std::uint16_t>(std::stoi((*metrics)[1])), "/metrics");
  auto value = [&](const std::string& series) {
    std::smatch m;
    const std::regex line(series + R"( (\d+))");
    return std::regex_search(scraped.body, m, line) ? std::stoull(m[1]) : 0ULL;
  };
  EXPECT_GE(value(R"(turnpike_kernel_relay_datagrams_total\{outcome="relayed_to_peer"\})"), 400u)
      << scraped.body;
  EXPECT_GE(value(R"(turnpike_kernel_relay_datagrams_total\{outcome="relayed_to_client"\})"), 400u);
  EXPECT_EQ(value("turnpike_kernel_relayed_to_peer_packets_total"), 400u);
  EXPECT_EQ(value(R"(turnpike_relayed_packets_total\{direction="to_client",transport="udp"\})"),
            400u);
  const auto [packets, to_peer, to_client] = stop();
  EXPECT_EQ(to_peer, 400u);
  EXPECT_EQ(to_client, 400u);
  EXPECT_LT(packets, 100u) << "user space saw the relayed data";
}

TEST_F(KernelRelayTest, PermissionExpiryAndDeletionStopTheKernelAndStrangersNeverGetThrough) {
  start(300, 3);
  udp_sink peer;
  udp_sink stranger("127.0.0.5");
  turn_session s(SOCK_DGRAM, server(), "u", "p");
  const auto allocated = s.allocate();
  ASSERT_EQ(allocated.code, 0);
  const auto relayed = relayed_of(allocated);
  ASSERT_EQ(s.channel_bind(0x4001, peer.address()).code, 0);
  const auto bound_at = std::chrono::steady_clock::now();
  s.client().send_raw(channel_data(0x4001, bytes(200, 1)));
  EXPECT_TRUE(peer.next());
  // A peer without a permission: nothing reaches the client.
  send_from(stranger, relayed, bytes(200, 2));
  {
    const auto [frames, other] = client_receives(s);
    EXPECT_TRUE(frames.empty());
    EXPECT_EQ(other, 0);
  }
  // The permission expires 3 s after the binding: nothing passes either way.
  std::this_thread::sleep_until(bound_at + 3s + 200ms);
  s.client().send_raw(channel_data(0x4001, bytes(200, 3)));
  EXPECT_TRUE(peer.received(500ms).empty());
  send_from(peer, relayed, bytes(200, 4));
  const auto [frames, other] = client_receives(s);
  EXPECT_TRUE(frames.empty());
  EXPECT_EQ(other, 0);

  // A fresh binding relays again; deleting the allocation stops it.
  ASSERT_EQ(s.channel_bind(0x4001, peer.address()).code, 0);
  send_from(peer, relayed, bytes(200, 5));
  EXPECT_EQ(client_receives(s).first.size(), 1u);
  ASSERT_EQ(s.remove().code, 0);
  send_from(peer, relayed, bytes(200, 6));
  s.client().send_raw(channel_data(0x4001, bytes(200, 7)));
  EXPECT_TRUE(peer.received(500ms).empty());
  EXPECT_TRUE(client_receives(s).first.empty());
  const auto [packets, to_peer, to_client] = stop();
  EXPECT_EQ(to_peer, 1u);
  EXPECT_EQ(to_client, 1u);
  (void)packets;
}

}  // namespace
}  // namespace turnpike::test
