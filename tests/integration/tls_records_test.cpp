// SPDX-License-Identifier: Apache-2.0
// TURN over TLS, read record by record: every STUN message and ChannelData frame the server
// sends a TLS client travels in a TLS record of its own, also when a burst from the peer
// queues many of them at once. Clients that take one SSL_read for one message (coturn's
// turnutils_uclient among them) depend on it; a record holding two frames loses the second.
#include <gtest/gtest.h>
#include <openssl/ssl.h>
#include <poll.h>

#include <filesystem>
#include <functional>

#include "protocol/attr_address.hpp"
#include "protocol/attr_turn.hpp"
#include "protocol/builder.hpp"
#include "protocol/framer.hpp"
#include "protocol/message.hpp"
#include "support/certs.hpp"
#include "support/process.hpp"
#include "support/stun_client.hpp"

namespace turnpike::test {
namespace {

using namespace std::chrono_literals;

// A blocking TLS client on a TCP connection that hands out what each SSL_read returned.
class tls_record_client {
 public:
  explicit tls_record_client(const protocol::transport_address& server)
      : tcp_(SOCK_STREAM, server),
        ctx_(SSL_CTX_new(TLS_client_method()), &SSL_CTX_free),
        ssl_(SSL_new(ctx_.get()), &SSL_free) {
    SSL_CTX_set_verify(ctx_.get(), SSL_VERIFY_NONE, nullptr);  // self-signed test certificate
    SSL_set_fd(ssl_.get(), fd());
    if (SSL_connect(ssl_.get()) != 1) throw std::runtime_error("TLS handshake failed");
  }
  int fd() const { return tcp_.native_handle(); }
  void send(const bytes& b) {
    ASSERT_EQ(SSL_write(ssl_.get(), b.data(), static_cast<int>(b.size())),
              static_cast<int>(b.size()));
  }
  // The plaintext of one record (OpenSSL's SSL_read never returns more than one), or nullopt
  // when nothing comes within `timeout_ms`.
  std::optional<bytes> read_record(int timeout_ms = 5000) {
    if (SSL_pending(ssl_.get()) == 0) {
      pollfd p{fd(), POLLIN, 0};
      if (::poll(&p, 1, timeout_ms) != 1) return std::nullopt;
    }
    bytes b(70000);
    const int n = SSL_read(ssl_.get(), b.data(), static_cast<int>(b.size()));
    if (n <= 0) return std::nullopt;
    b.resize(static_cast<std::size_t>(n));
    return b;
  }

 private:
  stun_client tcp_;
  std::unique_ptr<SSL_CTX, decltype(&SSL_CTX_free)> ctx_;
  std::unique_ptr<SSL, decltype(&SSL_free)> ssl_;
};

bytes request(protocol::method m, const std::function<void(protocol::message_builder&)>& add) {
  std::array<std::uint8_t, 12> tid{};
  tid[0] = static_cast<std::uint8_t>(m);
  std::array<std::uint8_t, 512> buf{};
  protocol::message_builder b(buf, m, protocol::msg_class::request, tid);
  add(b);
  const auto out = b.finish();
  return bytes(out->begin(), out->end());
}

TEST(TlsRecords, EachMessageAndChannelDataFrameHasARecordOfItsOwn) {
  const test_certificate cert = make_test_certificate();
  process server({TURNPIKE_BINARY, "-n", "-L", "127.0.0.1", "-p", "0", "--tls-listening-port", "0",
                  "--cert", cert.cert, "--pkey", cert.key, "--no-auth", "--allow-loopback-peers",
                  "--relay-threads", "1"});
  const auto tls = server.wait_for(std::regex(R"(listening tls 127\.0\.0\.1:(\d+))"));
  ASSERT_TRUE(tls) << server.output();
  ASSERT_TRUE(server.wait_for(std::regex("iceServers"))) << server.output();

  // The peer: a UDP socket on loopback.
  const int peer = ::socket(AF_INET, SOCK_DGRAM, 0);
  socklen_t len = 0;
  const auto any = to_sockaddr(*protocol::transport_address::parse_ip("127.0.0.1", 0), len);
  ASSERT_EQ(::bind(peer, reinterpret_cast<const sockaddr*>(&any), len), 0);
  sockaddr_storage bound{};
  socklen_t blen = sizeof bound;
  ::getsockname(peer, reinterpret_cast<sockaddr*>(&bound), &blen);
  const auto peer_address = from_sockaddr(bound);

  tls_record_client client(*protocol::transport_address::parse_ip(
      "127.0.0.1", static_cast<std::uint16_t>(std::stoi((*tls)[1]))));
  // Allocate, then bind channel 0x4000 to the peer: each answer is exactly one record.
  client.send(request(protocol::method::allocate, [](protocol::message_builder& b) {
    protocol::add_requested_transport(b, protocol::transport_udp);
  }));
  const auto allocated = client.read_record();
  ASSERT_TRUE(allocated);
  const auto answer = protocol::message_view::parse(*allocated);
  ASSERT_TRUE(answer && answer->cls() == protocol::msg_class::success_response);
  const auto relayed = protocol::decode_xor_address(
      answer->find(protocol::attr::xor_relayed_address)->value, answer->tid_bytes());
  ASSERT_TRUE(relayed);
  client.send(request(protocol::method::channel_bind, [&](protocol::message_builder& b) {
    b.add_u32(protocol::attr::channel_number, std::uint32_t{0x4000} << 16);
    protocol::add_xor_address(b, protocol::attr::xor_peer_address, peer_address);
  }));
  const auto bound_answer = client.read_record();
  ASSERT_TRUE(bound_answer);
  const auto bound_msg = protocol::message_view::parse(*bound_answer);
  ASSERT_TRUE(bound_msg && bound_msg->cls() == protocol::msg_class::success_response);

  // A burst from the peer: the shard reads it in one round and queues the frames while the
  // first is still being written.
  constexpr int burst = 200;
  socklen_t rlen = 0;
  const auto to = to_sockaddr(*relayed, rlen);
  for (int i = 0; i < burst; ++i) {
    std::array<std::uint8_t, 100> payload{};
    payload.fill(static_cast<std::uint8_t>(i));
    ASSERT_EQ(::sendto(peer, payload.data(), payload.size(), 0,
                       reinterpret_cast<const sockaddr*>(&to), rlen),
              static_cast<ssize_t>(payload.size()));
  }
  int frames = 0;
  int records = 0;
  while (frames < burst) {
    const auto record = client.read_record();
    ASSERT_TRUE(record) << frames << " of " << burst << " frames arrived";
    ++records;
    // Count the frames in this record; each must be a whole ChannelData frame, in order.
    std::size_t off = 0;
    while (off < record->size()) {
      const auto f =
          protocol::next_frame(protocol::byte_span(record->data() + off, record->size() - off));
      ASSERT_EQ(f.status, protocol::frame_status::complete) << "a frame split across records";
      ASSERT_EQ(f.message_size, 104U);
      EXPECT_EQ((*record)[off], 0x40);
      EXPECT_EQ((*record)[off + 4], static_cast<std::uint8_t>(frames));
      off += f.size;
      ++frames;
    }
  }
  EXPECT_EQ(records, burst) << "frames shared records";
  ::close(peer);
  server.signal(SIGTERM);
  EXPECT_EQ(server.wait_exit(), 0) << server.output();
  std::filesystem::remove_all(std::filesystem::path(cert.cert).parent_path());
}

}  // namespace
}  // namespace turnpike::test
