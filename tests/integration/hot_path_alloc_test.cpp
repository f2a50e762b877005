// SPDX-License-Identifier: Apache-2.0
// The data path allocates nothing per packet. The server runs in this process (its shard
// threads are the real ones, on loopback) and the global operator new counts every heap
// allocation made off the test's own thread; the test relays thousands of datagrams each way
// and answers thousands of Binding requests, and the count may not grow with them.
#include <gtest/gtest.h>
#include <sys/socket.h>

#include <atomic>
#include <cstdlib>
#include <new>
#include <optional>
#include <string>

#include "protocol/channel_data.hpp"
#include "server/config/config.hpp"
#include "server/net/server.hpp"
#include "support/sinks.hpp"
#include "support/turn_session.hpp"

// GCC sees operator delete's free() inlined into callers of operator new and warns of a
// mismatch that is none: both are these replacements, over malloc and free.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif

namespace {

std::atomic<std::uint64_t> server_side_allocations{0};
// Set on the test's thread (the clients), whose allocations are not the server's.
thread_local bool client_thread = false;

void* counted(std::size_t n) {
  if (!client_thread) server_side_allocations.fetch_add(1, std::memory_order_relaxed);
  return std::malloc(n == 0 ? 1 : n);
}

void* counted_aligned(std::size_t n, std::align_val_t align) {
  if (!client_thread) server_side_allocations.fetch_add(1, std::memory_order_relaxed);
  const auto a = static_cast<std::size_t>(align);
  return std::aligned_alloc(a, (n + a - 1) / a * a);
}

}  // namespace

void* operator new(std::size_t n) {
  if (void* p = counted(n)) return p;
  throw std::bad_alloc();
}
void* operator new[](std::size_t n) {
  if (void* p = counted(n)) return p;
  throw std::bad_alloc();
}
void* operator new(std::size_t n, const std::nothrow_t&) noexcept {
  return counted(n);
}
void* operator new[](std::size_t n, const std::nothrow_t&) noexcept {
  return counted(n);
}
void* operator new(std::size_t n, std::align_val_t a) {
  if (void* p = counted_aligned(n, a)) return p;
  throw std::bad_alloc();
}
void* operator new[](std::size_t n, std::align_val_t a) {
  if (void* p = counted_aligned(n, a)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept {
  std::free(p);
}
void operator delete[](void* p) noexcept {
  std::free(p);
}
void operator delete(void* p, std::size_t) noexcept {
  std::free(p);
}
void operator delete[](void* p, std::size_t) noexcept {
  std::free(p);
}
void operator delete(void* p, std::align_val_t) noexcept {
  std::free(p);
}
void operator delete[](void* p, std::align_val_t) noexcept {
  std::free(p);
}
void operator delete(void* p, std::size_t, std::align_val_t) noexcept {
  std::free(p);
}
void operator delete[](void* p, std::size_t, std::align_val_t) noexcept {
  std::free(p);
}

namespace turnpike::test {
namespace {

namespace p = protocol;
namespace cfg = server::config;

// Round trips (or Binding requests) while allocations are counted.
constexpr int rounds = 3000;
// Allowed while they are: timers (the engine's tick, spare expiry) may allocate now and then,
// but per packet would be thousands.
constexpr std::uint64_t allowed = 20;

class in_process_server {
 public:
  in_process_server() {
    const std::string text =
        "listening-ip=127.0.0.1\nlistening-port=0\nrelay-threads=2\nrealm=hot.test\n"
        "lt-cred-mech\nuser=alice:secret\nallow-loopback-peers\nno-tls\nno-dtls\nno-cli\n"
        "log-level=warning\n";
    lc_ = cfg::build_config(cfg::parse_config_text(text, "hot_path_alloc_test"), {});
    srv_ = std::make_unique<server::net::server>(lc_.cfg);
    srv_->open();
    srv_->start();
    for (const auto& l : srv_->listeners()) {
      if (l.proto == server::engine::transport::udp && !l.alternate) udp_ = l.address;
    }
  }
  ~in_process_server() {
    srv_->stop();
    srv_->join();
  }
  const p::transport_address& udp() const noexcept { return udp_; }

 private:
  cfg::loaded_config lc_;
  std::unique_ptr<server::net::server> srv_;
  p::transport_address udp_;
};

// Server-side heap allocations made while `step` runs `count` times (after as many
// unmeasured runs, so batches, the relay's connected socket and every table reach their
// working size first). Nullopt when a step failed.
template <typename Step>
std::optional<std::uint64_t> allocations_during(int count, Step step) {
  for (int i = 0; i < count; ++i) {
    if (!step()) return std::nullopt;
  }
  const std::uint64_t before = server_side_allocations.load();
  for (int i = 0; i < count; ++i) {
    if (!step()) return std::nullopt;
  }
  return server_side_allocations.load() - before;
}

class HotPath : public ::testing::Test {
 protected:
  void SetUp() override { client_thread = true; }
  in_process_server server_;
  udp_sink peer_;
  const bytes payload_ = bytes(160, 0x5a);
};

// ChannelData client -> peer and back, over `type` (UDP or TCP).
std::optional<std::uint64_t> channel_round_trips(const in_process_server& server,
                                                 const udp_sink& peer, const bytes& payload,
                                                 int type) {
  turn_session s(type, server.udp(), "alice", "secret");
  if (s.allocate().code != 0 || s.create_permission(peer.address()).code != 0 ||
      s.channel_bind(0x4000, peer.address()).code != 0) {
    return std::nullopt;
  }
  bytes frame(4 + payload.size());
  frame.resize(*p::write_channel_data(frame, 0x4000, payload, true));
  return allocations_during(rounds, [&] {
    s.client().send_raw(frame);
    return peer.echo_one(2000) && s.client().receive(2000).has_value();
  });
}

TEST_F(HotPath, ChannelDataOverUdpAllocatesNothingPerPacket) {
  const auto n = channel_round_trips(server_, peer_, payload_, SOCK_DGRAM);
  ASSERT_TRUE(n);
  EXPECT_LE(*n, allowed) << "heap allocations while relaying " << 2 * rounds << " datagrams";
}

TEST_F(HotPath, ChannelDataOverTcpAllocatesNothingPerPacket) {
  const auto n = channel_round_trips(server_, peer_, payload_, SOCK_STREAM);
  ASSERT_TRUE(n);
  EXPECT_LE(*n, allowed) << "heap allocations while relaying " << 2 * rounds << " datagrams";
}

TEST_F(HotPath, SendAndDataIndicationsAllocateNothingPerPacket) {
  turn_session s(SOCK_DGRAM, server_.udp(), "alice", "secret");
  ASSERT_EQ(s.allocate().code, 0);
  ASSERT_EQ(s.create_permission(peer_.address()).code, 0);
  const auto n = allocations_during(rounds, [&] {
    s.send_indication(peer_.address(), payload_);
    return peer_.echo_one(2000) && s.client().receive(2000).has_value();
  });
  ASSERT_TRUE(n);
  EXPECT_LE(*n, allowed) << "heap allocations while relaying " << 2 * rounds << " datagrams";
}

TEST_F(HotPath, BindingAnswersAllocateNothing) {
  stun_client c(SOCK_DGRAM, server_.udp());
  const bytes binding = stun_client::binding_request();
  const auto n = allocations_during(rounds, [&] {
    c.send_raw(binding);
    return c.receive(2000).has_value();
  });
  ASSERT_TRUE(n);
  EXPECT_LE(*n, allowed) << "heap allocations while answering " << rounds << " Binding requests";
}

// The counter does see the server's threads: an Allocate allocates.
TEST_F(HotPath, TheCounterSeesTheServersThreads) {
  const std::uint64_t before = server_side_allocations.load();
  turn_session s(SOCK_DGRAM, server_.udp(), "alice", "secret");
  ASSERT_EQ(s.allocate().code, 0);
  EXPECT_GT(server_side_allocations.load(), before);
}

}  // namespace
}  // namespace turnpike::test
