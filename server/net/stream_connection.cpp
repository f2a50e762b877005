// SPDX-License-Identifier: Apache-2.0
// Stream framing and bounded output for TCP and TLS clients (RFC 8656 section 12.5 framing).
#include "server/net/stream_connection.hpp"

#include <sys/socket.h>
#include <unistd.h>
#include <boost/asio/write.hpp>

#include <cstring>

#include "protocol/framer.hpp"
#include "server/net/shard.hpp"

namespace turnpike::server::net {

namespace {

template <class Stream>
constexpr bool is_tls = !std::is_same_v<Stream, boost::asio::ip::tcp::socket>;

}  // namespace

template <class Stream>
basic_stream_connection<Stream>::basic_stream_connection(shard& owner, Stream stream,
                                                         engine::five_tuple tuple)
    : shard_(owner), stream_(std::move(stream)), tuple_(tuple), watchdog_(owner.io()), in_(4096) {}

template <class Stream>
boost::asio::ip::tcp::socket& basic_stream_connection<Stream>::socket() noexcept {
  if constexpr (is_tls<Stream>) {
    return stream_.next_layer();
  } else {
    return stream_;
  }
}

template <class Stream>
void basic_stream_connection<Stream>::start() {
  boost::system::error_code ignored;
  socket().set_option(boost::asio::ip::tcp::no_delay(true), ignored);
  shard_.add_connection(tuple_, this);
  last_byte_ = std::chrono::steady_clock::now();
  frame_started_ = std::chrono::steady_clock::time_point::max();
  watch();
  if constexpr (is_tls<Stream>) {
    // The handshake counts as a frame: it must finish within the frame timeout.
    handshaking_ = true;
    frame_started_ = last_byte_;
    stream_.async_handshake(boost::asio::ssl::stream_base::server,
                            [self = this->shared_from_this()](const boost::system::error_code& ec) {
                              self->handshaking_ = false;
                              self->frame_started_ = std::chrono::steady_clock::time_point::max();
                              if (ec || self->closed_) {
                                self->close();
                                return;
                              }
                              self->read();
                            });
  } else {
    read();
  }
}

template <class Stream>
void basic_stream_connection<Stream>::watch() {
  const stream_limits& limits = shard_.stream_limits_in_force();
  // Check often enough to close within a fraction of the shorter limit.
  const auto period = std::max(std::chrono::milliseconds(200),
                               std::chrono::duration_cast<std::chrono::milliseconds>(
                                   std::min(limits.frame_timeout, limits.idle_timeout)) /
                                   4);
  watchdog_.expires_after(period);
  watchdog_.async_wait([self = this->shared_from_this()](const boost::system::error_code& ec) {
    if (ec || self->closed_) return;
    const stream_limits& l = self->shard_.stream_limits_in_force();
    const auto now = std::chrono::steady_clock::now();
    if (now - self->last_byte_ > l.idle_timeout ||
        (self->frame_started_ != std::chrono::steady_clock::time_point::max() &&
         now - self->frame_started_ > l.frame_timeout)) {
      self->shard_.count_stream_timeout();
      self->close();
      return;
    }
    self->watch();
  });
}

template <class Stream>
void basic_stream_connection<Stream>::close() noexcept {
  if (closed_) return;
  closed_ = true;
  watchdog_.cancel();
  shard_.remove_connection(tuple_);
  boost::system::error_code ignored;
  socket().close(ignored);
  if (peer_) peer_->close(ignored);
}

template <class Stream>
void basic_stream_connection<Stream>::read() {
  if (in_len_ == in_.size()) in_.resize(std::min(in_.size() * 2, protocol::max_frame_size));
  stream_.async_read_some(
      boost::asio::buffer(in_.data() + in_len_, in_.size() - in_len_),
      [self = this->shared_from_this()](const boost::system::error_code& ec, std::size_t n) {
        self->on_read(ec, n);
      });
}

template <class Stream>
void basic_stream_connection<Stream>::on_read(const boost::system::error_code& ec, std::size_t n) {
  if (ec || closed_) {
    close();
    return;
  }
  in_len_ += n;
  last_byte_ = std::chrono::steady_clock::now();
  if (peer_) {
    forward_to_peer(0, in_len_);  // a bound data connection: raw bytes to the peer
    return;
  }
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
    if (peer_) {  // ConnectionBind succeeded: whatever follows is the client's raw data
      frame_started_ = std::chrono::steady_clock::time_point::max();
      forward_to_peer(off, in_len_);
      return;
    }
  }
  if (off > 0) {
    std::memmove(in_.data(), in_.data() + off, in_len_ - off);
    in_len_ -= off;
  }
  // A frame left incomplete must be finished within the frame timeout (a trickling client is
  // closed); a completed one resets the clock.
  if (in_len_ == 0) {
    frame_started_ = std::chrono::steady_clock::time_point::max();
  } else if (off > 0 || frame_started_ == std::chrono::steady_clock::time_point::max()) {
    frame_started_ = last_byte_;
  }
  read();
}

template <class Stream>
void basic_stream_connection<Stream>::send(protocol::byte_span bytes) {
  if (closed_) return;
  if (pending_.size() + bytes.size() > max_pending_output) {
    close();  // the client does not read what it asks for
    return;
  }
  pending_.insert(pending_.end(), bytes.begin(), bytes.end());
  if constexpr (is_tls<Stream>) pending_ends_.push_back(pending_.size());
  if (!write_in_flight_) write();
}

template <class Stream>
void basic_stream_connection<Stream>::write() {
  writing_.clear();
  std::swap(writing_, pending_);
  writing_ends_.clear();
  std::swap(writing_ends_, pending_ends_);
  writing_record_ = 0;
  write_in_flight_ = true;
  write_next();
}

template <class Stream>
void basic_stream_connection<Stream>::write_next() {
  // Plain TCP: the whole batch. TLS: the next message, one SSL_write (one record) each.
  std::size_t from = 0;
  std::size_t to = writing_.size();
  if constexpr (is_tls<Stream>) {
    from = writing_record_ == 0 ? 0 : writing_ends_[writing_record_ - 1];
    to = writing_ends_[writing_record_];
  }
  boost::asio::async_write(
      stream_, boost::asio::buffer(writing_.data() + from, to - from),
      [self = this->shared_from_this()](const boost::system::error_code& ec, std::size_t) {
        if (ec) {
          self->write_in_flight_ = false;
          self->close();
          return;
        }
        if constexpr (is_tls<Stream>) {
          if (++self->writing_record_ < self->writing_ends_.size() && !self->closed_) {
            self->write_next();
            return;
          }
        }
        self->write_in_flight_ = false;
        if (!self->pending_.empty() && !self->closed_) {
          self->write();
        } else if (self->peer_read_paused_ && !self->closed_) {
          self->peer_read_paused_ = false;
          self->read_peer();
        }
      });
}

template <class Stream>
void basic_stream_connection<Stream>::splice(int fd) {
  boost::system::error_code ec;
  peer_.emplace(shard_.io());
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len);
  peer_->assign(ss.ss_family == AF_INET6 ? boost::asio::ip::tcp::v6() : boost::asio::ip::tcp::v4(),
                fd, ec);
  if (ec) {
    ::close(fd);
    close();
    return;
  }
  peer_->set_option(boost::asio::ip::tcp::no_delay(true), ec);
  peer_in_.resize(16384);
  read_peer();
}

template <class Stream>
void basic_stream_connection<Stream>::read_peer() {
  peer_->async_read_some(
      boost::asio::buffer(peer_in_),
      [self = this->shared_from_this()](const boost::system::error_code& ec, std::size_t n) {
        if (ec || self->closed_) {
          self->close();  // the peer went away: so does the data connection
          return;
        }
        self->last_byte_ = std::chrono::steady_clock::now();  // traffic either way is not idle
        self->send(protocol::byte_span(self->peer_in_.data(), n));
        // Back-pressure: while the client is slow, stop reading the peer.
        if (self->pending_.size() > max_pending_output / 4) {
          self->peer_read_paused_ = true;
          return;
        }
        self->read_peer();
      });
}

template <class Stream>
void basic_stream_connection<Stream>::forward_to_peer(std::size_t from, std::size_t to) {
  if (from == to) {
    in_len_ = 0;
    read();
    return;
  }
  // One write at a time; the client is not read again until it is done (back-pressure).
  boost::asio::async_write(
      *peer_, boost::asio::buffer(in_.data() + from, to - from),
      [self = this->shared_from_this()](const boost::system::error_code& ec, std::size_t) {
        if (ec || self->closed_) {
          self->close();
          return;
        }
        self->in_len_ = 0;
        self->read();
      });
}

template class basic_stream_connection<boost::asio::ip::tcp::socket>;
template class basic_stream_connection<boost::asio::ssl::stream<boost::asio::ip::tcp::socket>>;

}  // namespace turnpike::server::net
