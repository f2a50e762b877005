// SPDX-License-Identifier: Apache-2.0
// Shard lifecycle, socket binding with SO_REUSEPORT, response routing, relay sockets and the
// engine's single timer.
#include "server/net/shard.hpp"

#include <netinet/in.h>
#include <spdlog/spdlog.h>

#include <boost/asio/detail/socket_option.hpp>
#include <boost/asio/ip/v6_only.hpp>
#include <boost/asio/post.hpp>
#include <ctime>

#include "server/net/asio_address.hpp"
#include "server/net/relay_socket.hpp"
#include "server/net/stream_connection.hpp"
#include "server/net/tcp_listener.hpp"
#include "server/net/udp_socket.hpp"

namespace turnpike::server::net {
namespace {

using reuse_port = boost::asio::detail::socket_option::boolean<SOL_SOCKET, SO_REUSEPORT>;

template <class Socket>
void prepare(Socket& s, const protocol::transport_address& local) {
  const auto ep = to_endpoint<typename Socket::protocol_type>(local);
  s.open(ep.protocol());
  s.set_option(typename Socket::reuse_address(true));
  s.set_option(reuse_port(true));
  if (local.family == protocol::address_family::ipv6) {
    s.set_option(boost::asio::ip::v6_only(true));
  }
  s.bind(ep);
}

}  // namespace

shard::shard(unsigned index) : index_(index), timer_(io_), rng_(std::random_device{}()) {}

void shard::init_engine(engine::engine_settings settings, relay_setup relays,
                        stream_limits limits) {
  relay_setup_ = std::move(relays);
  limits_ = limits;
  engine_.emplace(std::move(settings), *this, this);
}

shard::~shard() {
  stop();
  join();
}

engine::instant shard::now() noexcept {
  return {engine::clock::now(), static_cast<std::int64_t>(std::time(nullptr))};
}

protocol::transport_address shard::open_udp(const protocol::transport_address& local) {
  boost::asio::ip::udp::socket s(io_);
  prepare(s, local);
  const auto bound = from_endpoint(s.local_endpoint());
  udp_.push_back(std::make_unique<udp_socket>(*this, std::move(s), bound));
  return bound;
}

protocol::transport_address shard::open_tcp(const protocol::transport_address& local,
                                            std::shared_ptr<boost::asio::ssl::context> tls) {
  boost::asio::ip::tcp::acceptor a(io_);
  prepare(a, local);
  a.listen(boost::asio::socket_base::max_listen_connections);
  const auto bound = from_endpoint(a.local_endpoint());
  tcp_.push_back(std::make_unique<tcp_listener>(*this, std::move(a), bound, std::move(tls)));
  return bound;
}

void shard::start() {
  work_.emplace(io_.get_executor());
  for (auto& u : udp_) u->start();
  for (auto& t : tcp_) t->start();
  thread_ = std::thread([this] {
    try {
      io_.run();
    } catch (const std::exception& e) {
      spdlog::critical("shard {} stopped by an exception: {}", index_, e.what());
    }
  });
}

void shard::reload_tls(std::shared_ptr<boost::asio::ssl::context> tls) {
  boost::asio::post(io_, [this, tls] {
    for (auto& t : tcp_) t->set_tls(tls);
  });
}

void shard::stop() {
  boost::asio::post(io_, [this] {
    if (engine_) engine_->close_all();
    for (auto& u : udp_) u->close();
    for (auto& t : tcp_) t->close();
    std::vector<stream_connection*> open;
    open.reserve(connections_.size());
    for (auto& [tuple, c] : connections_) open.push_back(c);
    for (stream_connection* c : open) c->close();
    timer_.cancel();
    work_.reset();
  });
}

void shard::join() {
  if (thread_.joinable()) thread_.join();
}

void shard::on_client_packet(const engine::five_tuple& path, protocol::byte_span bytes) noexcept {
  engine_->on_packet(path, bytes, now());
  rearm_timer();
}

void shard::on_peer_packet(engine::relay_id id, const protocol::transport_address& peer,
                           protocol::byte_span bytes) noexcept {
  engine_->on_peer_packet(id, peer, bytes, now());
}

void shard::rearm_timer() {
  const auto due = engine_->next_deadline();
  if (due >= armed_) return;
  armed_ = due;
  timer_.expires_at(due);
  timer_.async_wait([this](const boost::system::error_code& ec) {
    if (ec) return;  // re-armed earlier, or stopping
    armed_ = engine::clock::time_point::max();
    engine_->on_timer(now());
    rearm_timer();
  });
}

void shard::send_to_client(const engine::five_tuple& path, protocol::byte_span bytes) {
  if (path.proto == engine::transport::udp) {
    for (auto& u : udp_) {
      if (u->local() == path.local) {
        if (!u->send_to(path.remote, bytes)) ++send_failures_;
        return;
      }
    }
    ++send_failures_;  // no socket at that address (should not happen)
    return;
  }
  const auto it = connections_.find(path);
  if (it == connections_.end()) {
    ++send_failures_;
    return;
  }
  it->second->send(bytes);
}

void shard::add_connection(const engine::five_tuple& t, stream_connection* c) {
  connections_[t] = c;
}

bool shard::admit_stream(const protocol::transport_address& remote) noexcept {
  protocol::transport_address ip = remote;
  ip.port = 0;
  unsigned& open = per_ip_[ip];
  if (limits_.per_ip != 0 && open >= limits_.per_ip) {
    ++streams_refused_;
    return false;
  }
  ++open;
  return true;
}

void shard::release_stream(const protocol::transport_address& remote) noexcept {
  protocol::transport_address ip = remote;
  ip.port = 0;
  if (const auto it = per_ip_.find(ip); it != per_ip_.end() && --it->second == 0) per_ip_.erase(it);
}

void shard::remove_connection(const engine::five_tuple& t) noexcept {
  connections_.erase(t);
  release_stream(t.remote);
  // Posted, not called: a connection may close while the engine is inside a handler that
  // writes to it (output overflow), and the allocation must not vanish under that handler.
  boost::asio::post(io_, [this, t] {
    if (engine_) engine_->on_stream_closed(t);
  });
}

std::optional<boost::asio::ip::udp::socket> shard::bind_relay(const protocol::transport_address& at,
                                                              bool dont_fragment) {
  boost::asio::ip::udp::socket s(io_);
  boost::system::error_code ec;
  const auto ep = to_endpoint<boost::asio::ip::udp>(at);
  s.open(ep.protocol(), ec);
  if (ec) return std::nullopt;
  if (at.family == protocol::address_family::ipv6) s.set_option(boost::asio::ip::v6_only(true), ec);
  s.bind(ep, ec);
  if (ec) return std::nullopt;
  if (dont_fragment) {
    // RFC 8656 section 7.2 step 4: DF on every datagram the relay sends.
    if (at.family == protocol::address_family::ipv4) {
      const int v = IP_PMTUDISC_DO;
      ::setsockopt(s.native_handle(), IPPROTO_IP, IP_MTU_DISCOVER, &v, sizeof v);
    } else {
      const int v = 1;
      ::setsockopt(s.native_handle(), IPPROTO_IPV6, IPV6_DONTFRAG, &v, sizeof v);
    }
  }
  return s;
}

std::optional<engine::opened_relay> shard::open_relay(const engine::relay_request& request,
                                                      engine::relay_error& why) {
  std::optional<boost::asio::ip::udp::socket> socket;
  engine::opened_relay out;
  if (request.token) {
    auto held = relay_setup_.reservations->take(*request.token);
    if (!held) {
      why = engine::relay_error::bad_token;
      return std::nullopt;
    }
    socket.emplace(io_);
    const auto proto = held->second.family == protocol::address_family::ipv4
                           ? boost::asio::ip::udp::v4()
                           : boost::asio::ip::udp::v6();
    socket->assign(proto, held->first);
    out.local = held->second;
  } else {
    const protocol::transport_address* ip = nullptr;
    for (const auto& candidate : relay_setup_.ips) {
      if (candidate.family == request.family) {
        ip = &candidate;
        break;
      }
    }
    if (ip == nullptr) {
      why = engine::relay_error::no_such_family;
      return std::nullopt;
    }
    const unsigned lo = relay_setup_.min_port, hi = relay_setup_.max_port;
    for (int attempt = 0; attempt < 64 && !socket; ++attempt) {
      unsigned port = lo + static_cast<unsigned>(rng_() % (hi - lo + 1));
      if (request.even_port) port &= ~1u;
      if (port < lo || (request.reserve_next && port + 1 > hi)) continue;
      protocol::transport_address at = *ip;
      at.port = static_cast<std::uint16_t>(port);
      socket = bind_relay(at, request.dont_fragment);
      if (!socket) continue;
      if (request.reserve_next) {
        protocol::transport_address next = at;
        next.port = static_cast<std::uint16_t>(port + 1);
        auto kept = bind_relay(next, false);
        if (!kept) {
          socket.reset();
          continue;
        }
        out.reserved = relay_setup_.reservations->put(kept->release(), next);
      }
      out.local = at;
    }
    if (!socket) {
      why = engine::relay_error::no_port;
      return std::nullopt;
    }
  }
  out.id = next_relay_++;
  auto r = std::make_shared<relay_socket>(*this, out.id, std::move(*socket));
  r->start();
  relays_.emplace(out.id, std::move(r));
  return out;
}

void shard::close_relay(engine::relay_id id) {
  const auto it = relays_.find(id);
  if (it == relays_.end()) return;
  it->second->close();
  relays_.erase(it);
}

void shard::send_to_peer(engine::relay_id id, const protocol::transport_address& peer,
                         protocol::byte_span bytes) {
  const auto it = relays_.find(id);
  if (it != relays_.end()) it->second->send_to(peer, bytes);
}

}  // namespace turnpike::server::net
