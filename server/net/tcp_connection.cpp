// SPDX-License-Identifier: Apache-2.0
// Stream framing and bounded output for TCP clients (RFC 8656 section 12.5 framing).
#include "server/net/tcp_connection.hpp"

#include <spdlog/spdlog.h>

#include <boost/asio/write.hpp>
#include <chrono>

#include "protocol/framer.hpp"
#include "server/net/asio_address.hpp"
#include "server/net/shard.hpp"

namespace turnpike::server::net {

tcp_connection::tcp_connection(shard& owner, boost::asio::ip::tcp::socket socket,
                               engine::five_tuple tuple)
    : shard_(owner), socket_(std::move(socket)), tuple_(tuple), in_(4096) {}

void tcp_connection::start() {
  boost::system::error_code ignored;
  socket_.set_option(boost::asio::ip::tcp::no_delay(true), ignored);
  shard_.add_connection(tuple_, this);
  read();
}

void tcp_connection::close() noexcept {
  if (closed_) return;
  closed_ = true;
  shard_.remove_connection(tuple_);
  boost::system::error_code ignored;
  socket_.close(ignored);
}

void tcp_connection::read() {
  if (in_len_ == in_.size()) in_.resize(std::min(in_.size() * 2, protocol::max_frame_size));
  socket_.async_read_some(boost::asio::buffer(in_.data() + in_len_, in_.size() - in_len_),
                          [self = shared_from_this()](const boost::system::error_code& ec,
                                                      std::size_t n) { self->on_read(ec, n); });
}

void tcp_connection::on_read(const boost::system::error_code& ec, std::size_t n) {
  if (ec || closed_) {
    close();
    return;
  }
  in_len_ += n;
  std::size_t off = 0;
  for (;;) {
    const protocol::frame f =
        protocol::next_frame(protocol::byte_span(in_.data() + off, in_len_ - off));
    if (f.status == protocol::frame_status::invalid) {
      // Not STUN or ChannelData: nothing more on this stream can be trusted.
      shard_.on_client_packet(tuple_, protocol::byte_span(in_.data() + off, in_len_ - off));
      close();
      return;
    }
    if (f.status == protocol::frame_status::need_more) {
      if (f.size > in_.size()) in_.resize(f.size);  // bounded by protocol::max_frame_size
      break;
    }
    shard_.on_client_packet(tuple_, protocol::byte_span(in_.data() + off, f.message_size));
    if (closed_) return;
    off += f.size;
  }
  if (off > 0) {
    std::memmove(in_.data(), in_.data() + off, in_len_ - off);
    in_len_ -= off;
  }
  read();
}

void tcp_connection::send(protocol::byte_span bytes) {
  if (closed_) return;
  if (pending_.size() + bytes.size() > max_pending_output) {
    close();  // the client does not read what it asks for
    return;
  }
  pending_.insert(pending_.end(), bytes.begin(), bytes.end());
  if (!write_in_flight_) write();
}

void tcp_connection::write() {
  writing_.clear();
  std::swap(writing_, pending_);
  write_in_flight_ = true;
  boost::asio::async_write(
      socket_, boost::asio::buffer(writing_),
      [self = shared_from_this()](const boost::system::error_code& ec, std::size_t) {
        self->write_in_flight_ = false;
        if (ec) {
          self->close();
          return;
        }
        if (!self->pending_.empty() && !self->closed_) self->write();
      });
}

tcp_listener::tcp_listener(shard& owner, boost::asio::ip::tcp::acceptor acceptor,
                           protocol::transport_address local)
    : shard_(owner), acceptor_(std::move(acceptor)), backoff_(owner.io()), local_(local) {}

void tcp_listener::start() {
  accept();
}

void tcp_listener::close() noexcept {
  boost::system::error_code ignored;
  acceptor_.close(ignored);
  backoff_.cancel();
}

void tcp_listener::accept() {
  acceptor_.async_accept(
      [this](const boost::system::error_code& ec, boost::asio::ip::tcp::socket socket) {
        if (ec == boost::asio::error::operation_aborted || !acceptor_.is_open()) return;
        if (ec) {
          // Out of descriptors or similar: wait a little instead of spinning on the error.
          spdlog::warn("tcp accept on {}: {}", local_.to_string(), ec.message());
          backoff_.expires_after(std::chrono::milliseconds(100));
          backoff_.async_wait([this](const boost::system::error_code& wait_ec) {
            if (!wait_ec && acceptor_.is_open()) accept();
          });
          return;
        }
        boost::system::error_code peer_ec;
        const auto peer = socket.remote_endpoint(peer_ec);
        if (!peer_ec) {
          const engine::five_tuple t{engine::transport::tcp, local_, from_endpoint(peer)};
          std::make_shared<tcp_connection>(shard_, std::move(socket), t)->start();
        }
        accept();
      });
}

}  // namespace turnpike::server::net
