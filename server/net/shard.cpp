// SPDX-License-Identifier: Apache-2.0
// Shard lifecycle, socket binding with SO_REUSEPORT, and response routing.
#include "server/net/shard.hpp"

#include <spdlog/spdlog.h>

#include <boost/asio/detail/socket_option.hpp>
#include <boost/asio/ip/v6_only.hpp>
#include <boost/asio/post.hpp>

#include "server/net/asio_address.hpp"
#include "server/net/tcp_connection.hpp"
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

std::size_t five_tuple_hash::operator()(const engine::five_tuple& t) const noexcept {
  // FNV-1a over the fields that vary; cheap and good enough for a per-shard table.
  std::size_t h = 1469598103934665603ull;
  auto mix = [&h](const std::uint8_t* p, std::size_t n) {
    for (std::size_t i = 0; i < n; ++i) h = (h ^ p[i]) * 1099511628211ull;
  };
  const auto proto = static_cast<std::uint8_t>(t.proto);
  mix(&proto, 1);
  for (const auto* a : {&t.local, &t.remote}) {
    mix(a->ip.data(), a->ip.size());
    mix(reinterpret_cast<const std::uint8_t*>(&a->port), sizeof a->port);
  }
  return h;
}

shard::shard(unsigned index, engine::engine_settings settings)
    : index_(index), engine_(std::move(settings), *this) {}

shard::~shard() {
  stop();
  join();
}

protocol::transport_address shard::open_udp(const protocol::transport_address& local) {
  boost::asio::ip::udp::socket s(io_);
  prepare(s, local);
  const auto bound = from_endpoint(s.local_endpoint());
  udp_.push_back(std::make_unique<udp_socket>(*this, std::move(s), bound));
  return bound;
}

protocol::transport_address shard::open_tcp(const protocol::transport_address& local) {
  boost::asio::ip::tcp::acceptor a(io_);
  prepare(a, local);
  a.listen(boost::asio::socket_base::max_listen_connections);
  const auto bound = from_endpoint(a.local_endpoint());
  tcp_.push_back(std::make_unique<tcp_listener>(*this, std::move(a), bound));
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

void shard::stop() {
  boost::asio::post(io_, [this] {
    for (auto& u : udp_) u->close();
    for (auto& t : tcp_) t->close();
    std::vector<tcp_connection*> open;
    open.reserve(connections_.size());
    for (auto& [tuple, c] : connections_) open.push_back(c);
    for (tcp_connection* c : open) c->close();
    work_.reset();
  });
}

void shard::join() {
  if (thread_.joinable()) thread_.join();
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

void shard::add_connection(const engine::five_tuple& t, tcp_connection* c) {
  connections_[t] = c;
}

void shard::remove_connection(const engine::five_tuple& t) noexcept {
  connections_.erase(t);
}

}  // namespace turnpike::server::net
