// SPDX-License-Identifier: Apache-2.0
// One relay socket (the relayed transport address of an allocation, RFC 8656 section 2.2):
// receives peer datagrams into a reused buffer and hands them to the shard's engine; sends
// client data to peers without blocking.
#pragma once

#include <sys/socket.h>
#include <sys/uio.h>

#include <array>
#include <boost/asio/ip/udp.hpp>
#include <memory>
#include <vector>

#include "protocol/bytes.hpp"
#include "server/engine/relay_io.hpp"

namespace turnpike::server::net {

class shard;

class relay_socket : public std::enable_shared_from_this<relay_socket> {
 public:
  relay_socket(shard& owner, engine::relay_id id, boost::asio::ip::udp::socket socket);
  void start();
  void close() noexcept;
  void send_to(const protocol::transport_address& peer, protocol::byte_span bytes) noexcept;

 private:
  void receive();
  void drain() noexcept;

  shard& shard_;
  engine::relay_id id_;
  boost::asio::ip::udp::socket socket_;
};

// The shard's receive buffers for relay sockets: relay sockets wait for readability and then
// read in batches (recvmmsg) into these, so an allocation costs no buffer of its own.
struct receive_batch {
  static constexpr int slots = 16;
  static constexpr std::size_t slot_size = 65536;
  receive_batch();
  std::vector<std::uint8_t> data;
  std::array<iovec, slots> iov{};
  std::array<sockaddr_storage, slots> from{};
  std::array<mmsghdr, slots> msgs{};
  void reset() noexcept;
};

}  // namespace turnpike::server::net
