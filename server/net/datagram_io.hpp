// SPDX-License-Identifier: Apache-2.0
// Batched UDP I/O for a shard's sockets (listeners and relays): receive with recvmmsg (and
// UDP GRO where the kernel coalesces), send with sendmmsg (and UDP GSO for runs of same-size
// datagrams to one destination). One receive_batch and one send_batch per shard: no buffer per
// socket, no allocation per datagram.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <array>
#include <cstdint>
#include <vector>

#include "protocol/bytes.hpp"
#include "protocol/types.hpp"

namespace turnpike::server::net {

socklen_t to_sockaddr(const protocol::transport_address& a, sockaddr_storage& out) noexcept;
// IPv4-mapped IPv6 addresses come back as IPv4.
protocol::transport_address from_sockaddr(const sockaddr_storage& s) noexcept;

// Socket options every shard UDP socket gets: a receive buffer of `receive_bytes`, a send
// buffer of `send_bytes` when not 0 (the kernel caps both at net.core.rmem_max / wmem_max),
// and UDP GRO.
void tune_udp_socket(int fd, int receive_bytes, int send_bytes) noexcept;
// Asked for sockets that carry many clients' or relays' bursts: the shards' listeners (both
// ways) and relay-mux's receive and raw send sockets.
inline constexpr int shared_socket_buffer_bytes = 4 << 20;

// Receive buffers: `slots` datagrams per recvmmsg, each up to 64 KiB (a GRO-coalesced run of
// datagrams arrives as one slot and is split again by for_each).
class receive_batch {
 public:
  static constexpr int slots = 16;
  static constexpr std::size_t slot_size = 65536;
  receive_batch();
  // recvmmsg(MSG_DONTWAIT) on `fd`: how many slots were filled (0: nothing queued).
  int receive(int fd) noexcept;
  // Slots filled so far, by every receive (a GRO run counts once): the shard's load.
  std::uint64_t received() const noexcept { return received_; }
  // Calls f(from, bytes) for every datagram of the last receive, GRO runs split into their
  // datagrams; truncated slots are skipped.
  template <class F>
  void for_each(int filled, F&& f) {
    for_each_to(filled,
                [&f](const protocol::transport_address& from, const protocol::transport_address*,
                     protocol::byte_span bytes) { f(from, bytes); });
  }
  // The same with the address each datagram was sent to, f(from, to, bytes): `to` is null
  // unless the socket asked for IP_RECVORIGDSTADDR / IPV6_RECVORIGDSTADDR.
  template <class F>
  void for_each_to(int filled, F&& f) {
    for (int i = 0; i < filled; ++i) {
      const auto& h = msgs_[i].msg_hdr;
      if ((h.msg_flags & MSG_TRUNC) != 0) continue;
      const protocol::transport_address from = from_sockaddr(from_[i]);
      const std::uint8_t* data = data_.data() + static_cast<std::size_t>(i) * slot_size;
      const std::size_t len = msgs_[i].msg_len;
      std::size_t seg = 0;
      protocol::transport_address to;
      const bool has_to = read_control(i, seg, to);
      const protocol::transport_address* dst = has_to ? &to : nullptr;
      if (seg == 0 || seg >= len) {
        f(from, dst, protocol::byte_span(data, len));
        continue;
      }
      for (std::size_t at = 0; at < len; at += seg) {
        f(from, dst, protocol::byte_span(data + at, std::min(seg, len - at)));
      }
    }
  }

 private:
  // Slot i's control messages: the GRO segment size (0: none) and, if present (true), the
  // original destination.
  bool read_control(int i, std::size_t& segment, protocol::transport_address& to) const noexcept;

  std::vector<std::uint8_t> data_;
  std::array<iovec, slots> iov_{};
  std::array<sockaddr_storage, slots> from_{};
  std::array<std::array<std::uint8_t, 128>, slots> control_{};
  std::array<mmsghdr, slots> msgs_{};
  std::uint64_t received_ = 0;
};

// Reads what `fd` has queued, at most `rounds` batches (then the shard's other sockets get
// their turn), handing each datagram to f(from, to, bytes) while `fd` stays open: `f` may
// close it, and `fd` is read through the reference. `to` is the datagram's original
// destination, null unless the socket asked for IP_RECVORIGDSTADDR / IPV6_RECVORIGDSTADDR.
// True: more may be left.
template <class F>
bool read_socket_to(receive_batch& b, const int& fd, F&& f, int rounds = 4) {
  for (int round = 0; round < rounds; ++round) {
    if (fd < 0) return false;
    const int n = b.receive(fd);
    b.for_each_to(n, [&](const protocol::transport_address& from,
                         const protocol::transport_address* to, protocol::byte_span bytes) {
      if (fd >= 0) f(from, to, bytes);
    });
    if (n < receive_batch::slots) return false;
  }
  return fd >= 0;
}

// The same with f(from, bytes).
template <class F>
bool read_socket(receive_batch& b, const int& fd, F&& f, int rounds = 4) {
  return read_socket_to(
      b, fd,
      [&f](const protocol::transport_address& from, const protocol::transport_address*,
           protocol::byte_span bytes) { f(from, bytes); },
      rounds);
}

// Outgoing datagrams queued during one handler and sent together by flush(): per socket one
// sendmmsg; consecutive same-size datagrams to one destination go as one UDP GSO message.
// Datagrams are copied in, so the caller's buffer may be reused at once.
class send_batch {
 public:
  static constexpr std::size_t max_datagrams = 64;
  static constexpr std::size_t max_bytes = std::size_t{256} * 1024;
  send_batch();
  // Queues a copy of `header` then `bytes` as one datagram (flushing first when full).
  // Returns the datagrams that failed in that flush. A datagram with a header carries its own
  // IP and UDP headers (a raw socket) and never joins a GSO run.
  std::uint64_t push(int fd, const protocol::transport_address& to, protocol::byte_span bytes,
                     protocol::byte_span header = {});
  // The same for a connected socket: no address (the socket's peer), and a send that meets
  // the socket's pending ICMP error is made again once.
  std::uint64_t push_connected(int fd, protocol::byte_span bytes);
  // Sends all that is queued; returns how many datagrams could not be sent (buffer full,
  // unreachable, too large: dropped, never retried or blocked on).
  std::uint64_t flush() noexcept;
  bool empty() const noexcept { return entries_.empty(); }
  // Datagrams and syscalls so far, for tests and profiles.
  std::uint64_t datagrams_sent() const noexcept { return datagrams_sent_; }
  std::uint64_t send_calls() const noexcept { return send_calls_; }

 private:
  struct entry {
    int fd;
    socklen_t to_len;  // 0: a connected socket
    sockaddr_storage to;
    std::size_t offset;
    std::size_t size;
    bool coalesce;  // no header of its own: may join a GSO run
  };
  std::uint64_t queue(int fd, const protocol::transport_address* to, protocol::byte_span bytes,
                      protocol::byte_span header);
  std::uint64_t send_run(int fd, const std::uint16_t* order, std::size_t count) noexcept;
  std::uint64_t send_one_by_one(int fd, const std::uint16_t* order, std::size_t count) noexcept;

  std::vector<entry> entries_;
  std::vector<std::uint8_t> arena_;
  std::vector<std::uint16_t> order_;
  std::array<mmsghdr, max_datagrams> msgs_{};
  std::array<iovec, max_datagrams> iov_{};
  std::array<std::array<std::uint8_t, 32>, max_datagrams> control_{};
  std::array<std::uint16_t, max_datagrams> first_{};  // per message: index into order
  std::array<std::uint16_t, max_datagrams> count_{};  // per message: datagrams in it
  bool gso_ = true;
  std::uint64_t datagrams_sent_ = 0;
  std::uint64_t send_calls_ = 0;
};

}  // namespace turnpike::server::net
