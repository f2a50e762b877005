// SPDX-License-Identifier: Apache-2.0
// TURN over DTLS 1.2 (RFC 8656 section 3.1, RFC 6347) on a UDP listening socket. Datagrams
// whose first byte is 20-63 (RFC 7983) from a source without a session go to a stateless
// listener: a ClientHello without a valid cookie is answered with a HelloVerifyRequest and
// forgotten, so a spoofed flood costs CPU but no memory. Only a ClientHello that returns the
// cookie (an HMAC of the source address and a minute counter) becomes a session. Each
// session feeds its decrypted records to the shard as transport::dtls packets; answers go
// back through SSL_write. OpenSSL talks to the socket through a small BIO that hands it one
// received datagram at a time and sends each record it writes as one datagram.
#pragma once

#include <openssl/ssl.h>

#include <boost/asio/ssl/context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <unordered_map>

#include "protocol/bytes.hpp"
#include "protocol/types.hpp"
#include "server/engine/engine.hpp"

namespace turnpike::server::net {

class shard;
class udp_socket;

// Sets the cookie callbacks on a DTLS server context (a per-process random key).
void install_dtls_cookies(SSL_CTX* ctx);

// Each spelt once, as TURNPIKE_ENGINE_COUNTERS (engine/types.hpp) says.
#define TURNPIKE_DTLS_COUNTERS(X)                                                                \
  X(hello_verify_sent, "turnpike_dtls_hello_verify_total", "",                                   \
    "ClientHellos answered with a cookie, no state.")                                            \
  X(handshakes, "turnpike_dtls_handshakes_total", "", "DTLS handshakes completed.")              \
  X(failed, "turnpike_dtls_failures_total", "", "DTLS handshake failures, alerts and timeouts.") \
  X(refused, "", "", "Valid cookie, but over the per-IP or total limit.")                        \
  /* DTLS-looking datagrams that were not a ClientHello */                                       \
  X(dropped, "turnpike_dropped_packets_total", "dtls_not_client_hello", "")                      \
  X(idle_closed, "", "", "Established sessions closed for silence.")

struct dtls_counters {
#define TURNPIKE_DECLARE_COUNTER(member, family, label, help) std::uint64_t member = 0;
  TURNPIKE_DTLS_COUNTERS(TURNPIKE_DECLARE_COUNTER)
#undef TURNPIKE_DECLARE_COUNTER
  dtls_counters& operator+=(const dtls_counters& o) noexcept;
};

class dtls_endpoint {
 public:
  // Sessions per socket beyond which new ones are refused (per-IP limits apply first).
  static constexpr std::size_t max_sessions = 50000;

  dtls_endpoint(shard& owner, udp_socket& socket, std::shared_ptr<boost::asio::ssl::context> ctx);
  ~dtls_endpoint();
  dtls_endpoint(const dtls_endpoint&) = delete;
  dtls_endpoint& operator=(const dtls_endpoint&) = delete;

  // True when the datagram was DTLS (first byte 20-63) and was taken; false for the caller to
  // handle as plain STUN/ChannelData.
  bool on_datagram(const protocol::transport_address& from, protocol::byte_span bytes) noexcept;
  // Encrypts one STUN message or ChannelData to an established session.
  bool send(const protocol::transport_address& to, protocol::byte_span bytes) noexcept;
  // New handshakes use `ctx` (certificate reload); established sessions keep theirs.
  void set_context(std::shared_ptr<boost::asio::ssl::context> ctx) noexcept;
  // Frees every session without telling the engine (shutting down).
  void close_all() noexcept;

  std::size_t sessions() const noexcept { return sessions_.size(); }
  const dtls_counters& counters() const noexcept { return counters_; }

  // What the custom BIO reads from and writes to.
  struct datagram_io {
    shard* owner = nullptr;
    udp_socket* socket = nullptr;
    protocol::transport_address peer;
    const std::uint8_t* in = nullptr;
    std::size_t in_len = 0;
    unsigned writes = 0;  // datagrams sent through this BIO (the listener counts answers)
  };

 private:
  // `io` outlives `ssl`, whose BIO points at it.
  struct session {
    std::unique_ptr<datagram_io> io;
    std::unique_ptr<SSL, decltype(&SSL_free)> ssl{nullptr, &SSL_free};
    std::chrono::steady_clock::time_point started;
    std::chrono::steady_clock::time_point last_heard;
    bool established = false;
  };
  using session_map =
      std::unordered_map<engine::five_tuple, std::unique_ptr<session>, engine::five_tuple_hash>;

  enum class outcome { open, peer_closed, failed };
  enum class close_reason { idle, peer_closed, failed };

  std::unique_ptr<datagram_io> new_io() noexcept;
  bool make_listener() noexcept;
  void listen(const protocol::transport_address& from, protocol::byte_span bytes) noexcept;
  outcome feed(const engine::five_tuple& t, session& s, protocol::byte_span bytes) noexcept;
  void close(session_map::iterator it, close_reason why) noexcept;
  engine::five_tuple tuple(const protocol::transport_address& remote) const noexcept;
  void arm_timer() noexcept;
  void on_tick() noexcept;

  shard& shard_;
  udp_socket& socket_;
  std::shared_ptr<boost::asio::ssl::context> ctx_;
  // The stateless listener: reused for every ClientHello until one returns a valid cookie,
  // then it becomes that session and a fresh one is made.
  std::unique_ptr<datagram_io> listener_io_;
  std::unique_ptr<SSL, decltype(&SSL_free)> listener_{nullptr, &SSL_free};
  std::unique_ptr<BIO_ADDR, decltype(&BIO_ADDR_free)> client_addr_{nullptr, &BIO_ADDR_free};
  session_map sessions_;
  std::unique_ptr<std::uint8_t[]> plain_;  // decrypted record buffer
  boost::asio::steady_timer timer_;
  bool timer_armed_ = false;
  dtls_counters counters_;
};

}  // namespace turnpike::server::net
