// SPDX-License-Identifier: Apache-2.0
// The poller: a shard's UDP sockets (listeners, relays, relay-mux receive sockets) sit in an
// edge-triggered epoll set of their own, registered once; Asio waits on that set's
// descriptor, so a wake-up costs one re-arm however many sockets it finds readable, and none
// per socket. Each socket is registered under a typed key. For every key found ready the
// poller asks its handler to read it; a read is bounded, and a socket left with data queued
// is read again from a posted handler, after other work has had its turn.
//
// Busy, the set is polled again at once rather than through Asio's loop, while rounds keep
// finding datagrams (3 system calls a round instead of 5); idle, a round that finds nothing
// costs a call, so after one such round it tries again only every repoll_probe_every
// wake-ups until one finds some.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <cstdint>
#include <vector>

namespace turnpike::server::net {

// What a registered socket is: a kind and a number whose meaning the kind gives (a listener's
// index, a relay's id, an address family).
struct poll_key {
  enum class kind : std::uint8_t { listener, relay, connected_relay, mux };
  kind what = kind::listener;
  std::uint32_t number = 0;

  std::uint64_t pack() const noexcept {
    return std::uint64_t{static_cast<std::uint8_t>(what)} << 32 | number;
  }
  static poll_key unpack(std::uint64_t v) noexcept {
    return {static_cast<kind>(v >> 32), static_cast<std::uint32_t>(v)};
  }
  friend bool operator==(const poll_key&, const poll_key&) = default;
};

class poll_handler {
 public:
  // Reads what `key`'s socket has queued (a bounded amount): true when more may be left.
  virtual bool read_ready(poll_key key) noexcept = 0;
  // Around each round of reads: datagrams sent meanwhile may wait for round_ended.
  virtual void round_started() noexcept {}
  virtual void round_ended(int ready) noexcept { (void)ready; }

 protected:
  ~poll_handler() = default;
};

class poller {
 public:
  static constexpr unsigned max_poll_rounds = 16;     // per wake-up, before Asio's loop again
  static constexpr unsigned repoll_probe_every = 16;  // wake-ups per try while rounds miss

  // Throws boost::system::system_error when the epoll set cannot be made.
  poller(boost::asio::io_context& io, poll_handler& handler);
  poller(const poller&) = delete;
  poller& operator=(const poller&) = delete;

  // Throws boost::system::system_error when epoll_ctl fails.
  void watch(int fd, poll_key key);
  // A socket in the set already takes another key (a spare relay socket reused).
  void rekey(int fd, poll_key key);
  void start();
  void close() noexcept;
  bool is_open() const noexcept { return set_.is_open(); }

 private:
  void arm();
  void on_wake();
  int round();
  void schedule_again();
  void read_again();

  boost::asio::io_context& io_;
  poll_handler& handler_;
  boost::asio::posix::stream_descriptor set_;
  std::vector<poll_key> again_;    // sockets left with data queued by their read's bound
  std::vector<poll_key> reading_;  // again_'s previous contents, being read
  bool again_posted_ = false;
  bool repoll_hits_ = false;   // the last extra round found datagrams
  unsigned repoll_probe_ = 0;  // wake-ups counted while they did not
};

}  // namespace turnpike::server::net
