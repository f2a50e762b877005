// SPDX-License-Identifier: Apache-2.0
// Shard lifecycle, socket binding with SO_REUSEPORT, response routing, relay sockets and the
// engine's single timer.
#include "server/net/shard.hpp"

#include <netinet/in.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

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

protocol::transport_address shard::open_udp(const protocol::transport_address& local,
                                            std::shared_ptr<boost::asio::ssl::context> dtls) {
  boost::asio::ip::udp::socket s(io_);
  prepare(s, local);
  const auto bound = from_endpoint(s.local_endpoint());
  udp_.push_back(std::make_unique<udp_socket>(*this, std::move(s), bound, std::move(dtls)));
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

void shard::reload_tls(std::shared_ptr<boost::asio::ssl::context> tls,
                       std::shared_ptr<boost::asio::ssl::context> dtls) {
  boost::asio::post(io_, [this, tls, dtls] {
    if (tls) {
      for (auto& t : tcp_) t->set_tls(tls);
    }
    if (dtls) {
      for (auto& u : udp_) u->set_dtls(dtls);
    }
  });
}

void shard::drain(std::optional<protocol::transport_address> alternate) {
  boost::asio::post(io_, [this, alternate] {
    if (engine_) engine_->set_draining(alternate);
  });
}

void shard::apply_realm_options(auth::realm_options options) {
  boost::asio::post(io_, [this, o = std::move(options)] {
    if (engine_) engine_->set_realm_options(o);
  });
}

dtls_counters shard::dtls_totals() const noexcept {
  dtls_counters c;
  for (const auto& u : udp_) {
    if (u->dtls() != nullptr) c += u->dtls()->counters();
  }
  return c;
}

void shard::stop() {
  boost::asio::post(io_, [this] {
    if (engine_) engine_->close_all();
    for (auto& u : udp_) u->close();
    for (auto& [id, r] : tcp_relays_) r.second->close();
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
  const auto at = now();
  engine_->on_packet(path, bytes, at);
  // STUN messages (first byte 0-3) only: ChannelData needs no timing, and no clock read.
  if (!bytes.empty() && bytes[0] < 4) {
    handling_.observe(std::chrono::duration<double>(engine::clock::now() - at.mono).count());
  }
  rearm_timer();
}

shard_snapshot& shard_snapshot::operator+=(const shard_snapshot& o) noexcept {
  counters += o.counters;
  gauges += o.gauges;
  dtls += o.dtls;
  handling += o.handling;
  send_failures += o.send_failures;
  stream_timeouts += o.stream_timeouts;
  streams_refused += o.streams_refused;
  stream_connections += o.stream_connections;
  dtls_sessions += o.dtls_sessions;
  relay_sockets += o.relay_sockets;
  return *this;
}

std::future<shard_snapshot> shard::snapshot() {
  auto promise = std::make_shared<std::promise<shard_snapshot>>();
  auto result = promise->get_future();
  boost::asio::post(io_, [this, promise] {
    shard_snapshot s;
    if (engine_) {
      s.counters = engine_->counters();
      s.gauges = engine_->gauges();
    }
    s.dtls = dtls_totals();
    for (const auto& u : udp_) {
      if (u->dtls() != nullptr) s.dtls_sessions += u->dtls()->sessions();
    }
    s.handling = handling_;
    s.send_failures = send_failures_;
    s.stream_timeouts = stream_timeouts_;
    s.streams_refused = streams_refused_;
    s.stream_connections = connections_.size();
    s.relay_sockets = relays_.size() + tcp_relays_.size();
    promise->set_value(s);
  });
  return result;
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
  if (!engine::is_stream(path.proto)) {
    for (auto& u : udp_) {
      if (u->local() == path.local) {
        const bool sent = path.proto == engine::transport::udp ? u->send_to(path.remote, bytes)
                                                               : u->send_dtls(path.remote, bytes);
        if (!sent) ++send_failures_;
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
  if (request.tcp) {
    // RFC 6062: a listening socket on the relayed address; outgoing connections to peers
    // are bound to the same address (SO_REUSEADDR/SO_REUSEPORT on both).
    const protocol::transport_address* ip = nullptr;
    for (const auto& candidate : relay_setup_.ips) {
      if (candidate.family == request.family) {
        ip = &candidate;
        break;
      }
    }
    if (ip == nullptr || relay_setup_.tcp_connections == nullptr) {
      why = engine::relay_error::no_such_family;
      return std::nullopt;
    }
    const unsigned lo = relay_setup_.min_port, hi = relay_setup_.max_port;
    for (int attempt = 0; attempt < 64; ++attempt) {
      protocol::transport_address at = *ip;
      at.port = static_cast<std::uint16_t>(lo + rng_() % (hi - lo + 1));
      boost::asio::ip::tcp::acceptor a(io_);
      boost::system::error_code ec;
      const auto ep = to_endpoint<boost::asio::ip::tcp>(at);
      a.open(ep.protocol(), ec);
      if (!ec) a.set_option(boost::asio::ip::tcp::acceptor::reuse_address(true), ec);
      if (!ec) a.set_option(reuse_port(true), ec);
      if (!ec) a.bind(ep, ec);
      if (!ec) a.listen(boost::asio::socket_base::max_listen_connections, ec);
      if (ec) continue;
      engine::opened_relay out;
      out.id = next_relay_++;
      out.local = at;
      auto l = std::make_shared<tcp_relay_listener>(*this, out.id, std::move(a));
      l->start();
      tcp_relays_.emplace(out.id, std::make_pair(at, std::move(l)));
      return out;
    }
    why = engine::relay_error::no_port;
    return std::nullopt;
  }
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
  if (const auto it = relays_.find(id); it != relays_.end()) {
    it->second->close();
    relays_.erase(it);
  }
  if (const auto it = tcp_relays_.find(id); it != tcp_relays_.end()) {
    it->second.second->close();
    tcp_relays_.erase(it);
  }
}

void shard::connect_peer(engine::relay_id id, const protocol::transport_address& peer,
                         std::uint32_t connection_id,
                         engine::tcp_connection_credentials credentials) {
  const auto relay = tcp_relays_.find(id);
  auto socket = std::make_shared<boost::asio::ip::tcp::socket>(io_);
  boost::system::error_code ec;
  if (relay != tcp_relays_.end()) {
    const auto from = to_endpoint<boost::asio::ip::tcp>(relay->second.first);
    socket->open(from.protocol(), ec);
    if (!ec) socket->set_option(boost::asio::ip::tcp::socket::reuse_address(true), ec);
    if (!ec) socket->set_option(reuse_port(true), ec);
    if (!ec) socket->bind(from, ec);
  }
  if (relay == tcp_relays_.end() || ec) {
    spdlog::debug("tcp relay connect {}: cannot bind: {}", connection_id, ec.message());
    boost::asio::post(io_,
                      [this, connection_id] { engine_->on_peer_connected(connection_id, false); });
    return;
  }
  // RFC 6062 section 5.2: give up after 30 s.
  auto timer = std::make_shared<boost::asio::steady_timer>(io_, tcp_bind_limit);
  timer->async_wait([socket](const boost::system::error_code& wait_ec) {
    if (!wait_ec) {
      boost::system::error_code ignored;
      socket->close(ignored);
    }
  });
  socket->async_connect(
      to_endpoint<boost::asio::ip::tcp>(peer), [this, socket, timer, connection_id, credentials](
                                                   const boost::system::error_code& connect_ec) {
        timer->cancel();
        bool ok = !connect_ec && socket->is_open();
        spdlog::debug("tcp relay connect {}: {}", connection_id,
                      connect_ec ? connect_ec.message() : std::string("connected"));
        if (ok) {
          const int fd = socket->release();
          ok = relay_setup_.tcp_connections->put(connection_id, fd, credentials);
          if (!ok) ::close(fd);
        }
        engine_->on_peer_connected(connection_id, ok);
      });
}

std::optional<engine::tcp_connection_credentials> shard::connection_credentials(
    std::uint32_t connection_id) {
  if (relay_setup_.tcp_connections == nullptr) return std::nullopt;
  return relay_setup_.tcp_connections->peek(connection_id);
}

bool shard::bind_connection(std::uint32_t connection_id, const engine::five_tuple& data_path) {
  const auto conn = connections_.find(data_path);
  if (conn == connections_.end() || relay_setup_.tcp_connections == nullptr) return false;
  const auto held = relay_setup_.tcp_connections->take(connection_id);
  if (!held) return false;
  conn->second->splice(held->first);
  return true;
}

void shard::on_peer_tcp_connection(engine::relay_id id, boost::asio::ip::tcp::socket peer) {
  boost::system::error_code ec;
  const auto remote = peer.remote_endpoint(ec);
  if (ec) return;
  auto offered = engine_->on_peer_tcp_connection(id, from_endpoint(remote), now());
  spdlog::debug("tcp relay {}: peer {} {}", id, from_endpoint(remote).to_string(),
                offered ? "offered to the client" : "refused (no permission)");
  if (!offered) return;  // no permission: the socket closes as it goes out of scope
  const int fd = peer.release();
  if (!relay_setup_.tcp_connections->put(offered->first, fd, std::move(offered->second))) {
    ::close(fd);  // a connection id collision: the client will not get this one
  }
}

void shard::send_to_peer(engine::relay_id id, const protocol::transport_address& peer,
                         protocol::byte_span bytes) {
  const auto it = relays_.find(id);
  if (it != relays_.end()) it->second->send_to(peer, bytes);
}

}  // namespace turnpike::server::net
