// SPDX-License-Identifier: Apache-2.0
#include "server/net/relays/tcp_relays.hpp"

#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

#include "server/net/asio_address.hpp"
#include "server/net/relays/port_probe.hpp"
#include "server/net/socket_setup.hpp"
#include "server/net/stream_connection.hpp"

namespace turnpike::server::net {

tcp_relay_listener::tcp_relay_listener(tcp_relays& owner, engine::relay_id id,
                                       boost::asio::ip::tcp::acceptor acceptor)
    : owner_(owner), id_(id), acceptor_(std::move(acceptor)) {}

void tcp_relay_listener::start() {
  accept();
}

void tcp_relay_listener::close() noexcept {
  boost::system::error_code ignored;
  acceptor_.close(ignored);
}

void tcp_relay_listener::accept() {
  acceptor_.async_accept([self = shared_from_this()](const boost::system::error_code& ec,
                                                     boost::asio::ip::tcp::socket socket) {
    if (ec == boost::asio::error::operation_aborted || !self->acceptor_.is_open()) return;
    if (!ec) self->owner_.on_peer_connection(self->id_, std::move(socket));
    self->accept();
  });
}

tcp_relays::tcp_relays(relay_host& host, relay_addresses& addresses, std::uint16_t min_port,
                       std::uint16_t max_port, tcp_connection_registry& connections)
    : host_(host),
      addresses_(addresses),
      min_port_(min_port),
      max_port_(max_port),
      connections_(connections) {}

std::optional<engine::opened_relay> tcp_relays::open(const engine::relay_request& request,
                                                     engine::relay_id id,
                                                     engine::relay_error& why) {
  // A listening socket on the relayed address; outgoing connections to peers are bound to
  // the same address (SO_REUSEADDR and SO_REUSEPORT on both).
  if (addresses_.pick(request.family) == nullptr) {
    why = engine::relay_error::no_such_family;
    return std::nullopt;
  }
  std::optional<boost::asio::ip::tcp::acceptor> acceptor;
  protocol::transport_address at;
  auto take = [&](std::uint16_t port) {
    at = *addresses_.pick(request.family);
    at.port = port;
    const int fd = bind_socket(SOCK_STREAM, at, {.reuse_address = true, .reuse_port = true});
    if (fd < 0) return false;
    if (::listen(fd, SOMAXCONN) != 0) {
      ::close(fd);
      return false;
    }
    const auto ep = to_endpoint<boost::asio::ip::tcp>(at);
    boost::system::error_code ec;
    acceptor.emplace(host_.io());
    acceptor->assign(ep.protocol(), fd, ec);
    if (ec) {
      ::close(fd);
      acceptor.reset();
    }
    return !ec;
  };
  if (!port_probe(min_port_, max_port_, host_.rng()).find(take)) {
    why = engine::relay_error::no_port;
    return std::nullopt;
  }
  engine::opened_relay out;
  out.id = id;
  out.local = at;
  auto l = std::make_shared<tcp_relay_listener>(*this, id, std::move(*acceptor));
  l->start();
  relays_.emplace(id, relay{at, std::move(l)});
  return out;
}

bool tcp_relays::close(engine::relay_id id) noexcept {
  const auto it = relays_.find(id);
  if (it == relays_.end()) return false;
  it->second.listener->close();
  relays_.erase(it);
  return true;
}

void tcp_relays::close_all() noexcept {
  for (auto& [id, r] : relays_) r.listener->close();
  relays_.clear();
}

void tcp_relays::connect_peer(engine::relay_id id, const protocol::transport_address& peer,
                              std::uint32_t connection_id,
                              const engine::tcp_connection_credentials& credentials) {
  const auto held = relays_.find(id);
  auto socket = std::make_shared<boost::asio::ip::tcp::socket>(host_.io());
  int fd = -1;
  if (held != relays_.end()) {
    fd = bind_socket(SOCK_STREAM, held->second.local, {.reuse_address = true, .reuse_port = true});
  }
  boost::system::error_code ec;
  if (fd >= 0) {
    socket->assign(to_endpoint<boost::asio::ip::tcp>(held->second.local).protocol(), fd, ec);
    if (ec) ::close(fd);
  }
  if (fd < 0 || ec) {
    spdlog::debug("tcp relay connect {}: cannot bind", connection_id);
    relay_host* host = &host_;
    boost::asio::post(host_.io(),
                      [host, connection_id] { host->on_peer_connected(connection_id, false); });
    return;
  }
  // RFC 6062 section 5.2: give up after 30 s.
  auto timer = std::make_shared<boost::asio::steady_timer>(host_.io(), tcp_bind_limit);
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
          const int connected = socket->release();
          ok = connections_.put(connection_id, connected, credentials);
          if (!ok) ::close(connected);
        }
        host_.on_peer_connected(connection_id, ok);
      });
}

std::optional<engine::tcp_connection_credentials> tcp_relays::connection_credentials(
    std::uint32_t connection_id) {
  return connections_.peek(connection_id);
}

bool tcp_relays::bind_connection(std::uint32_t connection_id, const engine::five_tuple& data_path) {
  stream_connection* conn = host_.client_connection(data_path);
  if (conn == nullptr) return false;
  const auto held = connections_.take(connection_id);
  if (!held) return false;
  conn->splice(held->first);
  return true;
}

void tcp_relays::on_peer_connection(engine::relay_id id, boost::asio::ip::tcp::socket peer) {
  boost::system::error_code ec;
  const auto remote = peer.remote_endpoint(ec);
  if (ec) return;
  const int fd = peer.release();
  const bool offered = host_.on_peer_tcp_connection(
      id, from_endpoint(remote),
      [this, fd](std::uint32_t connection_id, engine::tcp_connection_credentials credentials) {
        // false on a connection id collision: the client is not told of this one
        return connections_.put(connection_id, fd, std::move(credentials));
      });
  spdlog::debug("tcp relay {}: peer {} {}", id, from_endpoint(remote).to_string(),
                offered ? "offered to the client" : "refused");
  if (!offered) ::close(fd);
}

}  // namespace turnpike::server::net
