// SPDX-License-Identifier: Apache-2.0
#include "server/net/relays/udp_relays.hpp"

#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

#include "server/net/datagram_io.hpp"
#include "server/net/descriptor_pressure.hpp"
#include "server/net/outbox.hpp"
#include "server/net/poller.hpp"
#include "server/net/relays/port_probe.hpp"
#include "server/net/socket_setup.hpp"

namespace turnpike::server::net {

udp_relays::udp_relays(relay_host& host, relay_addresses& addresses, std::uint16_t min_port,
                       std::uint16_t max_port, relay_reservations* reservations)
    : host_(host),
      addresses_(addresses),
      min_port_(min_port),
      max_port_(max_port),
      reservations_(reservations),
      spare_timer_(host.io()) {
  rlimit nofile{};
  if (::getrlimit(RLIMIT_NOFILE, &nofile) == 0) descriptor_limit_ = nofile.rlim_cur;
}

std::optional<engine::opened_relay> udp_relays::open(const engine::relay_request& request,
                                                     engine::relay_id id,
                                                     engine::relay_error& why) {
  int fd = -1;
  bool reused = false;  // a spare socket, already tuned and in the poller
  engine::opened_relay out;
  out.id = id;
  if (request.token) {
    auto held = reservations_ != nullptr ? reservations_->take(*request.token) : std::nullopt;
    if (!held) {
      why = engine::relay_error::bad_token;
      return std::nullopt;
    }
    fd = held->first;
    out.local = held->second;
  } else {
    if (addresses_.pick(request.family) == nullptr) {
      why = engine::relay_error::no_such_family;
      return std::nullopt;
    }
    if (!request.even_port && !request.reserve_next) {
      fd = spares_.take(request.family, request.dont_fragment, out.local,
                        std::chrono::steady_clock::now(), host_.rng());
      reused = fd >= 0;
    }
    const bind_options options{.dont_fragment = request.dont_fragment};
    auto take = [&](std::uint16_t port) {
      protocol::transport_address at = *addresses_.pick(request.family);
      at.port = port;
      const int bound = bind_socket(SOCK_DGRAM, at, options);
      if (bound < 0) {
        // Out of descriptors: the spares give theirs back first.
        if (note_descriptor_error(errno)) spares_.clear();
        return false;
      }
      if (request.reserve_next) {
        protocol::transport_address next = at;
        next.port = static_cast<std::uint16_t>(port + 1);
        const int kept = bind_socket(SOCK_DGRAM, next, {});
        if (kept < 0 || reservations_ == nullptr) {
          if (kept >= 0) ::close(kept);
          ::close(bound);
          return false;
        }
        out.reserved = reservations_->put(kept, next);
      }
      fd = bound;
      out.local = at;
      return true;
    };
    const port_probe probe(min_port_, max_port_, host_.rng());
    // The ports the spares hold may be the ones missing (a nearly full range, an even pair):
    // they are given back, and as many tries again.
    if (fd < 0 && !probe.find(take, request.even_port, request.reserve_next) && !spares_.empty()) {
      spares_.clear();
      probe.find(take, request.even_port, request.reserve_next);
    }
    if (fd < 0) {
      why = engine::relay_error::no_port;
      return std::nullopt;
    }
  }
  auto r = std::make_shared<relay_socket>(*this, id, fd, out.local, request.dont_fragment, reused);
  try {
    const poll_key key{poll_key::kind::relay, id};
    if (reused) {
      host_.poll().rekey(fd, key);
    } else {
      host_.poll().watch(fd, key);
    }
  } catch (const boost::system::system_error&) {
    why = engine::relay_error::no_port;
    return std::nullopt;  // r closes the socket
  }
  relays_.emplace(id, std::move(r));
  return out;
}

bool udp_relays::close(engine::relay_id id) noexcept {
  const auto it = relays_.find(id);
  if (it == relays_.end()) return false;
  relay_socket& r = *it->second;
  // Kept as a spare, still in the poller under the deleted relay's key: events for it find no
  // relay and are ignored until a new relay takes it and re-keys it.
  const bool keep = unsigned{max_port_} + 1u - min_port_ >= min_range_for_spares && r.fd() >= 0 &&
                    host_.poll().is_open() && may_hold_more(r.fd());
  if (keep) {
    const int fd = r.fd();
    if (spares_.keep(fd, r.local(), r.dont_fragment(), std::chrono::steady_clock::now())) {
      r.release();
      arm_spare_timer();
    }
  }
  r.close();
  relays_.erase(it);
  return true;
}

bool udp_relays::send_to_peer(engine::relay_id id, const protocol::transport_address& peer,
                              protocol::byte_span bytes) noexcept {
  const auto it = relays_.find(id);
  if (it == relays_.end()) return false;
  it->second->send_to(peer, bytes);
  return true;
}

bool udp_relays::read(engine::relay_id id, bool connected) noexcept {
  const auto it = relays_.find(id);
  if (it == relays_.end()) return false;                  // closed since the event was queued
  const std::shared_ptr<relay_socket> keep = it->second;  // the engine may close it meanwhile
  return connected ? keep->read_connected() : keep->read();
}

bool udp_relays::may_hold_more(int fd) const noexcept {
  return !descriptors_short() && static_cast<rlim_t>(fd) < descriptor_limit_ / 2;
}

int udp_relays::connect(const relay_socket& r, const protocol::transport_address& peer) noexcept {
  // A second descriptor for one allocation: only with room to spare, as for spares.
  if (!host_.poll().is_open() || r.fd() < 0 || !may_hold_more(r.fd())) return -1;
  // What went out unconnected leaves first, so the switch reorders nothing.
  host_.out().flush();
  // The relay socket joins a reuseport group only now, after its own bind: a socket that
  // binds the port without SO_REUSEPORT (another allocation's port probe) is still refused.
  const int on = 1;
  if (::setsockopt(r.fd(), SOL_SOCKET, SO_REUSEPORT, &on, sizeof on) != 0) return -1;
  const int fd =
      bind_socket(SOCK_DGRAM, r.local(), {.reuse_port = true, .dont_fragment = r.dont_fragment()});
  if (fd < 0) {
    note_descriptor_error(errno);
    return -1;
  }
  sockaddr_storage sa{};
  const socklen_t len = to_sockaddr(peer, sa);
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&sa), len) != 0) {
    ::close(fd);
    return -1;
  }
  tune_udp_socket(fd, buffer_bytes, 0);
  try {
    host_.poll().watch(fd, {poll_key::kind::connected_relay, r.id()});
  } catch (const boost::system::system_error&) {
    ::close(fd);
    return -1;
  }
  return fd;
}

void udp_relays::give_back_spares() noexcept {
  spares_.clear();
}

void udp_relays::close_all() noexcept {
  spares_.clear();
  spare_timer_.cancel();
  for (auto& [id, r] : relays_) r->close();
  relays_.clear();
}

void udp_relays::arm_spare_timer() {
  const auto due = spares_.next_expiry();
  if (spare_timer_armed_ || !due) return;
  spare_timer_armed_ = true;
  spare_timer_.expires_at(*due);
  spare_timer_.async_wait([this](const boost::system::error_code& ec) {
    spare_timer_armed_ = false;
    if (ec) return;  // stopping
    spares_.expire(std::chrono::steady_clock::now());
    arm_spare_timer();
  });
}

}  // namespace turnpike::server::net
