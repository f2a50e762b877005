// SPDX-License-Identifier: Apache-2.0
// RFC 6062 connection registry and relay listener.
#include "server/net/tcp_relay.hpp"

#include <unistd.h>

#include "server/net/asio_address.hpp"
#include "server/net/shard.hpp"

namespace turnpike::server::net {

bool tcp_connection_registry::put(std::uint32_t id, int fd,
                                  engine::tcp_connection_credentials credentials) {
  const auto now = std::chrono::steady_clock::now();
  std::lock_guard lock(mutex_);
  drop_expired(now);
  return held_.emplace(id, held{fd, std::move(credentials), now + bind_limit}).second;
}

std::optional<engine::tcp_connection_credentials> tcp_connection_registry::credentials(
    std::uint32_t id) {
  std::lock_guard lock(mutex_);
  drop_expired(std::chrono::steady_clock::now());
  const auto it = held_.find(id);
  if (it == held_.end()) return std::nullopt;
  return it->second.credentials;
}

std::optional<int> tcp_connection_registry::take(std::uint32_t id) {
  std::lock_guard lock(mutex_);
  drop_expired(std::chrono::steady_clock::now());
  const auto it = held_.find(id);
  if (it == held_.end()) return std::nullopt;
  const int fd = it->second.fd;
  held_.erase(it);
  return fd;
}

void tcp_connection_registry::drop_expired(std::chrono::steady_clock::time_point now) {
  for (auto it = held_.begin(); it != held_.end();) {
    if (it->second.until <= now) {
      ::close(it->second.fd);
      it = held_.erase(it);
    } else {
      ++it;
    }
  }
}

tcp_connection_registry::~tcp_connection_registry() {
  for (auto& [id, h] : held_) ::close(h.fd);
}

tcp_relay_listener::tcp_relay_listener(shard& owner, engine::relay_id id,
                                       boost::asio::ip::tcp::acceptor acceptor)
    : shard_(owner), id_(id), acceptor_(std::move(acceptor)) {}

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
    if (!ec) self->shard_.on_peer_tcp_connection(self->id_, std::move(socket));
    self->accept();
  });
}

}  // namespace turnpike::server::net
