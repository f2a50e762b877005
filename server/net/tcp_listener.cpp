// SPDX-License-Identifier: Apache-2.0
// Accepting stream clients, and telling TLS from plain TCP by the first byte.
#include "server/net/tcp_listener.hpp"

#include <spdlog/spdlog.h>
#include <sys/socket.h>

#include <chrono>

#include "server/net/asio_address.hpp"
#include "server/net/descriptor_pressure.hpp"
#include "server/net/shard.hpp"
#include "server/net/stream_connection.hpp"

namespace turnpike::server::net {

tcp_listener::tcp_listener(shard& owner, boost::asio::ip::tcp::acceptor acceptor,
                           protocol::transport_address local,
                           std::shared_ptr<boost::asio::ssl::context> tls)
    : shard_(owner),
      acceptor_(std::move(acceptor)),
      backoff_(owner.io()),
      local_(local),
      tls_(std::move(tls)) {}

void tcp_listener::start() {
  accept();
}

void tcp_listener::close() noexcept {
  boost::system::error_code ignored;
  acceptor_.close(ignored);
  backoff_.cancel();
}

void tcp_listener::accept() {
  acceptor_.async_accept([this](const boost::system::error_code& ec,
                                boost::asio::ip::tcp::socket socket) {
    if (ec == boost::asio::error::operation_aborted || !acceptor_.is_open()) return;
    if (ec) {
      // Out of descriptors or similar: wait a little instead of spinning on the error
      // (and let the shard's spare relay sockets go).
      spdlog::warn("tcp accept on {}: {}", local_.to_string(), ec.message());
      if (ec.category() == boost::system::system_category() && note_descriptor_error(ec.value())) {
        shard_.give_back_spares();
      }
      backoff_.expires_after(std::chrono::milliseconds(100));
      backoff_.async_wait([this](const boost::system::error_code& wait_ec) {
        if (!wait_ec && acceptor_.is_open()) accept();
      });
      return;
    }
    boost::system::error_code peer_ec;
    const auto peer = socket.remote_endpoint(peer_ec);
    if (!peer_ec && !shard_.admit_stream(from_endpoint(peer))) {
      boost::system::error_code ignored;
      socket.close(ignored);  // over the per-IP connection limit
    } else if (!peer_ec) {
      const auto remote = from_endpoint(peer);
      if (tls_) {
        classify(std::make_shared<boost::asio::ip::tcp::socket>(std::move(socket)), remote);
      } else {
        const engine::five_tuple t{engine::transport::tcp, local_, remote};
        std::make_shared<tcp_connection>(shard_, std::move(socket), t)->start();
      }
    }
    accept();
  });
}

void tcp_listener::classify(const std::shared_ptr<boost::asio::ip::tcp::socket>& socket,
                            protocol::transport_address remote) {
  auto timer = std::make_shared<boost::asio::steady_timer>(shard_.io());
  timer->expires_after(shard_.stream_limits_in_force().frame_timeout);
  timer->async_wait([this, socket](const boost::system::error_code& ec) {
    if (!ec) {
      boost::system::error_code ignored;
      socket->close(ignored);  // silent client: never said a byte
      shard_.count_stream_timeout();
    }
  });
  socket->async_wait(
      boost::asio::ip::tcp::socket::wait_read,
      [this, socket, timer, remote](const boost::system::error_code& ec) {
        timer->cancel();
        std::uint8_t first = 0;
        const ssize_t n =
            (ec || !socket->is_open()) ? -1 : ::recv(socket->native_handle(), &first, 1, MSG_PEEK);
        if (n != 1) {
          boost::system::error_code ignored;
          socket->close(ignored);
          shard_.release_stream(remote);
          return;
        }
        if (first == 0x16) {  // TLS handshake record
          const engine::five_tuple t{engine::transport::tls, local_, remote};
          std::make_shared<tls_connection>(
              shard_,
              boost::asio::ssl::stream<boost::asio::ip::tcp::socket>(std::move(*socket), *tls_), t)
              ->start();
        } else {
          const engine::five_tuple t{engine::transport::tcp, local_, remote};
          std::make_shared<tcp_connection>(shard_, std::move(*socket), t)->start();
        }
      });
}

}  // namespace turnpike::server::net
