// SPDX-License-Identifier: Apache-2.0
// A client's stream connection (TCP, or TLS over TCP): reads into its own buffer, frames the
// stream with protocol::next_frame, hands each frame to the shard's engine, and queues
// answers in a bounded buffer (a client that does not read them is disconnected). TLS
// connections finish their handshake within a time limit before anything is read.
#pragma once

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <memory>
#include <optional>
#include <vector>

#include "server/engine/types.hpp"

namespace turnpike::server::net {

class shard;

// What a stream client is allowed: a slow or silent client costs bounded memory and time.
struct stream_limits {
  // TLS handshake, first byte, and completing any STUN/ChannelData frame once started.
  std::chrono::seconds frame_timeout{10};
  // No byte received for this long: closed.
  std::chrono::seconds idle_timeout{300};
  // Concurrent connections from one IP on one shard (0: unlimited).
  unsigned per_ip = 0;
};

// What the shard knows of a connection: where answers go, and how to end it.
class stream_connection {
 public:
  static constexpr std::size_t max_pending_output = std::size_t{256} * 1024;

  virtual ~stream_connection() = default;
  virtual void send(protocol::byte_span bytes) = 0;
  virtual void close() noexcept = 0;
  // RFC 6062 ConnectionBind: from now on this connection carries raw bytes to and from the
  // peer socket `fd` (taken over).
  virtual void splice(int fd) = 0;
};

template <class Stream>
class basic_stream_connection final
    : public stream_connection,
      public std::enable_shared_from_this<basic_stream_connection<Stream>> {
 public:
  basic_stream_connection(shard& owner, Stream stream, engine::five_tuple tuple);
  void start();
  void send(protocol::byte_span bytes) override;
  void close() noexcept override;
  void splice(int fd) override;

 private:
  void read_peer();
  void forward_to_peer(std::size_t from, std::size_t to);
  void read();
  void on_read(const boost::system::error_code& ec, std::size_t n);
  void write();
  void write_next();
  void watch();
  boost::asio::ip::tcp::socket& socket() noexcept;

  shard& shard_;
  Stream stream_;
  engine::five_tuple tuple_;
  // One periodic check instead of a timer re-armed per read: the read path only stores times.
  boost::asio::steady_timer watchdog_;
  std::chrono::steady_clock::time_point last_byte_;
  std::chrono::steady_clock::time_point frame_started_;  // max(): no partial frame (or handshake)
  bool handshaking_ = false;
  std::vector<std::uint8_t> in_;
  std::size_t in_len_ = 0;
  std::vector<std::uint8_t> pending_;
  std::vector<std::uint8_t> writing_;
  // TLS only: where each queued message ends, so that each goes out in a TLS record of its
  // own even when several wait (clients such as turnutils_uclient take one SSL_read for one
  // message, as coturn writes them). Plain TCP sends the whole queue in one write.
  std::vector<std::size_t> pending_ends_;
  std::vector<std::size_t> writing_ends_;
  std::size_t writing_record_ = 0;
  bool write_in_flight_ = false;
  bool closed_ = false;
  // RFC 6062 data connection, once bound.
  std::optional<boost::asio::ip::tcp::socket> peer_;
  std::vector<std::uint8_t> peer_in_;
  bool peer_read_paused_ = false;
};

using tcp_connection = basic_stream_connection<boost::asio::ip::tcp::socket>;
using tls_connection =
    basic_stream_connection<boost::asio::ssl::stream<boost::asio::ip::tcp::socket>>;

}  // namespace turnpike::server::net
