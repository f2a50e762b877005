// SPDX-License-Identifier: Apache-2.0
// DTLS sessions on a UDP listener: stateless cookies, a datagram BIO, handshake and idle
// timeouts.
#include "server/net/dtls.hpp"

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <array>
#include <cstring>
#include <ctime>

#include "server/net/shard.hpp"
#include "server/net/udp_socket.hpp"

namespace turnpike::server::net {
namespace {

using steady = std::chrono::steady_clock;
using datagram_io = dtls_endpoint::datagram_io;

constexpr std::size_t cookie_length = 16;
constexpr long handshake_mtu = 1200;  // fits the IPv6 minimum MTU with headers to spare
constexpr std::size_t plain_size = 65536;

// ---------------------------------------------------------------- cookies

const std::array<unsigned char, 32>& cookie_key() {
  static const std::array<unsigned char, 32> key = [] {
    std::array<unsigned char, 32> k{};
    RAND_bytes(k.data(), static_cast<int>(k.size()));
    return k;
  }();
  return key;
}

// HMAC-SHA256(key, minute || family || ip || port), truncated: valid for the minute it was
// made in and the next one.
void cookie_for(const protocol::transport_address& peer, std::uint64_t minute,
                unsigned char out[EVP_MAX_MD_SIZE]) {
  unsigned char msg[8 + 1 + 16 + 2];
  for (int i = 0; i < 8; ++i) msg[i] = static_cast<unsigned char>(minute >> (56 - 8 * i));
  msg[8] = static_cast<unsigned char>(peer.family);
  std::memcpy(msg + 9, peer.ip.data(), 16);
  msg[25] = static_cast<unsigned char>(peer.port >> 8);
  msg[26] = static_cast<unsigned char>(peer.port);
  unsigned int len = 0;
  HMAC(EVP_sha256(), cookie_key().data(), static_cast<int>(cookie_key().size()), msg, sizeof msg,
       out, &len);
}

std::uint64_t this_minute() {
  return static_cast<std::uint64_t>(std::time(nullptr)) / 60;
}

int generate_cookie(SSL* ssl, unsigned char* cookie, unsigned int* len) {
  const auto* io = static_cast<const datagram_io*>(SSL_get_app_data(ssl));
  if (io == nullptr) return 0;
  unsigned char mac[EVP_MAX_MD_SIZE];
  cookie_for(io->peer, this_minute(), mac);
  std::memcpy(cookie, mac, cookie_length);
  *len = cookie_length;
  return 1;
}

int verify_cookie(SSL* ssl, const unsigned char* cookie, unsigned int len) {
  const auto* io = static_cast<const datagram_io*>(SSL_get_app_data(ssl));
  if (io == nullptr || len != cookie_length) return 0;
  const std::uint64_t now = this_minute();
  for (std::uint64_t minute : {now, now - 1}) {
    unsigned char mac[EVP_MAX_MD_SIZE];
    cookie_for(io->peer, minute, mac);
    if (CRYPTO_memcmp(mac, cookie, cookie_length) == 0) return 1;
  }
  return 0;
}

// ---------------------------------------------------------------- the datagram BIO

int bio_write(BIO* b, const char* data, int len) {
  BIO_clear_retry_flags(b);
  auto* io = static_cast<datagram_io*>(BIO_get_data(b));
  if (io == nullptr || len <= 0) return 0;
  ++io->writes;
  // A datagram the socket buffer cannot take is lost as on any UDP path; DTLS retransmits
  // handshake flights, and the application (TURN) copes with lost records. The socket counts
  // a failure.
  io->socket->send_to(io->peer, protocol::byte_span(reinterpret_cast<const std::uint8_t*>(data),
                                                    static_cast<std::size_t>(len)));
  return len;
}

int bio_read(BIO* b, char* out, int len) {
  BIO_clear_retry_flags(b);
  auto* io = static_cast<datagram_io*>(BIO_get_data(b));
  if (io == nullptr || io->in_len == 0 || len <= 0) {
    BIO_set_retry_read(b);
    return -1;
  }
  // One datagram per read; a datagram larger than OpenSSL's buffer is cut (and then fails
  // its record checks and is dropped).
  const std::size_t n = std::min(io->in_len, static_cast<std::size_t>(len));
  std::memcpy(out, io->in, n);
  io->in_len = 0;
  return static_cast<int>(n);
}

long bio_ctrl(BIO* b, int cmd, long, void*) {
  const auto* io = static_cast<const datagram_io*>(BIO_get_data(b));
  switch (cmd) {
    case BIO_CTRL_FLUSH:
      return 1;
    case BIO_CTRL_PENDING:
      return io == nullptr ? 0 : static_cast<long>(io->in_len);
    default:
      return 0;  // no MTU query, no peer address, no socket timeouts
  }
}

int bio_create(BIO* b) {
  BIO_set_init(b, 1);
  return 1;
}

int bio_destroy(BIO*) {
  return 1;
}

const BIO_METHOD* datagram_method() {
  static BIO_METHOD* method = [] {
    BIO_METHOD* m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "turnpike datagram");
    BIO_meth_set_write(m, bio_write);
    BIO_meth_set_read(m, bio_read);
    BIO_meth_set_ctrl(m, bio_ctrl);
    BIO_meth_set_create(m, bio_create);
    BIO_meth_set_destroy(m, bio_destroy);
    return m;
  }();
  return method;
}

// An epoch-0 handshake record carrying a ClientHello: a client starting over.
bool is_initial_client_hello(protocol::byte_span b) noexcept {
  return b.size() > 25 && b[0] == 22 && b[3] == 0 && b[4] == 0 && b[13] == 1;
}

}  // namespace

void install_dtls_cookies(SSL_CTX* ctx) {
  SSL_CTX_set_cookie_generate_cb(ctx, generate_cookie);
  SSL_CTX_set_cookie_verify_cb(ctx, verify_cookie);
}

dtls_counters& dtls_counters::operator+=(const dtls_counters& o) noexcept {
#define TURNPIKE_ADD_COUNTER(member, family, label, help) member += o.member;
  TURNPIKE_DTLS_COUNTERS(TURNPIKE_ADD_COUNTER)
#undef TURNPIKE_ADD_COUNTER
  return *this;
}

dtls_endpoint::dtls_endpoint(shard& owner, udp_socket& socket,
                             std::shared_ptr<boost::asio::ssl::context> ctx)
    : shard_(owner),
      socket_(socket),
      ctx_(std::move(ctx)),
      listener_io_(new_io()),
      client_addr_(BIO_ADDR_new(), &BIO_ADDR_free),
      plain_(std::make_unique<std::uint8_t[]>(plain_size)),
      timer_(owner.io()) {}

dtls_endpoint::~dtls_endpoint() {
  close_all();
}

std::unique_ptr<dtls_endpoint::datagram_io> dtls_endpoint::new_io() noexcept {
  auto io = std::make_unique<datagram_io>();
  io->owner = &shard_;
  io->socket = &socket_;
  return io;
}

engine::five_tuple dtls_endpoint::tuple(const protocol::transport_address& remote) const noexcept {
  return {engine::transport::dtls, socket_.local(), remote};
}

bool dtls_endpoint::make_listener() noexcept {
  SSL* ssl = SSL_new(ctx_->native_handle());
  if (ssl == nullptr) return false;
  BIO* bio = BIO_new(datagram_method());
  if (bio == nullptr) {
    SSL_free(ssl);
    return false;
  }
  BIO_set_data(bio, listener_io_.get());
  SSL_set_bio(ssl, bio, bio);  // one reference, owned by the SSL
  SSL_set_app_data(ssl, listener_io_.get());
  SSL_set_options(ssl, SSL_OP_NO_QUERY_MTU);
  SSL_set_mtu(ssl, handshake_mtu);
  SSL_set_accept_state(ssl);
  listener_.reset(ssl);
  return true;
}

void dtls_endpoint::set_context(std::shared_ptr<boost::asio::ssl::context> ctx) noexcept {
  ctx_ = std::move(ctx);
  listener_.reset();  // the next ClientHello meets the new certificate
}

void dtls_endpoint::close_all() noexcept {
  timer_.cancel();
  timer_armed_ = false;
  sessions_.clear();
  listener_.reset();
}

bool dtls_endpoint::on_datagram(const protocol::transport_address& from,
                                protocol::byte_span bytes) noexcept {
  // Every DTLS record starts with a content type of 20-63 (RFC 7983): STUN and ChannelData
  // never pay for the session look-up.
  if (bytes.empty() || bytes[0] < 20 || bytes[0] > 63) return false;
  const auto t = tuple(from);
  const auto it = sessions_.find(t);
  if (it == sessions_.end()) {
    listen(from, bytes);
    return true;
  }
  session& s = *it->second;
  if (s.established && is_initial_client_hello(bytes)) {
    // The client lost its session (restarted on the same port): start over statelessly.
    close(it, close_reason::peer_closed);
    listen(from, bytes);
    return true;
  }
  if (const outcome o = feed(t, s, bytes); o != outcome::open) {
    close(sessions_.find(t),
          o == outcome::peer_closed ? close_reason::peer_closed : close_reason::failed);
  }
  return true;
}

void dtls_endpoint::listen(const protocol::transport_address& from,
                           protocol::byte_span bytes) noexcept {
  if (!listener_ && !make_listener()) return;
  datagram_io& io = *listener_io_;
  io.peer = from;
  io.in = bytes.data();
  io.in_len = bytes.size();
  io.writes = 0;
  const int r = DTLSv1_listen(listener_.get(), client_addr_.get());
  io.in = nullptr;
  io.in_len = 0;
  if (r <= 0) {
    // No cookie or a stale one: answered with a HelloVerifyRequest (one write). Anything
    // else (not a ClientHello, a fragment, a bad record): dropped without an answer.
    if (io.writes != 0) {
      ++counters_.hello_verify_sent;
    } else {
      ++counters_.dropped;
    }
    ERR_clear_error();
    if (r < 0) listener_.reset();  // a fresh listener for the next ClientHello
    return;
  }
  // A ClientHello that returned our cookie: the source is reachable. Keep state now.
  if (sessions_.size() >= max_sessions || !shard_.admit_stream(from)) {
    ++counters_.refused;
    listener_.reset();
    return;
  }
  auto s = std::make_unique<session>();
  s->io = std::move(listener_io_);
  s->ssl = std::move(listener_);
  listener_io_ = new_io();
  s->started = s->last_heard = steady::now();
  const auto t = tuple(from);
  session& ref = *s;
  sessions_.emplace(t, std::move(s));
  arm_timer();
  // The ClientHello is buffered inside the SSL: continue the handshake from it.
  if (feed(t, ref, {}) != outcome::open) close(sessions_.find(t), close_reason::failed);
}

dtls_endpoint::outcome dtls_endpoint::feed(const engine::five_tuple& t, session& s,
                                           protocol::byte_span bytes) noexcept {
  SSL* ssl = s.ssl.get();
  s.io->in = bytes.data();
  s.io->in_len = bytes.size();
  s.last_heard = steady::now();
  auto finish = [&](outcome o) {
    s.io->in = nullptr;
    s.io->in_len = 0;
    if (o != outcome::open) ERR_clear_error();
    return o;
  };
  if (!s.established) {
    const int r = SSL_do_handshake(ssl);
    if (r != 1) {
      const int e = SSL_get_error(ssl, r);
      if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) return finish(outcome::open);
      return finish(outcome::failed);
    }
    s.established = true;
    ++counters_.handshakes;
  }
  for (;;) {
    const int n = SSL_read(ssl, plain_.get(), static_cast<int>(plain_size));
    if (n > 0) {
      shard_.on_client_packet(t, protocol::byte_span(plain_.get(), static_cast<std::size_t>(n)));
      continue;
    }
    switch (SSL_get_error(ssl, n)) {
      case SSL_ERROR_WANT_READ:
      case SSL_ERROR_WANT_WRITE:
        return finish(outcome::open);
      case SSL_ERROR_ZERO_RETURN:
        return finish(outcome::peer_closed);
      default:
        return finish(outcome::failed);
    }
  }
}

bool dtls_endpoint::send(const protocol::transport_address& to,
                         protocol::byte_span bytes) noexcept {
  const auto it = sessions_.find(tuple(to));
  if (it == sessions_.end() || !it->second->established) return false;
  const int n = SSL_write(it->second->ssl.get(), bytes.data(), static_cast<int>(bytes.size()));
  if (n <= 0) {
    ERR_clear_error();
    return false;
  }
  return true;
}

void dtls_endpoint::close(session_map::iterator it, close_reason why) noexcept {
  if (it == sessions_.end()) return;
  session& s = *it->second;
  if (why == close_reason::idle && s.established) {
    SSL_shutdown(s.ssl.get());  // a close_notify the client may or may not hear
  }
  if (why == close_reason::failed) ++counters_.failed;
  ERR_clear_error();
  const engine::five_tuple t = it->first;
  const bool established = s.established;
  sessions_.erase(it);
  // An established session may carry an allocation: the engine ends it as for a closed
  // stream. Either way the per-IP count taken at admission is given back.
  if (established) {
    shard_.remove_connection(t);
  } else {
    shard_.release_stream(t.remote);
  }
}

void dtls_endpoint::arm_timer() noexcept {
  if (timer_armed_ || sessions_.empty()) return;
  timer_armed_ = true;
  timer_.expires_after(std::chrono::milliseconds(500));
  timer_.async_wait([this](const boost::system::error_code& ec) {
    if (ec) return;  // cancelled: the endpoint may be gone
    timer_armed_ = false;
    on_tick();
    arm_timer();
  });
}

void dtls_endpoint::on_tick() noexcept {
  const auto now = steady::now();
  const auto& limits = shard_.stream_limits_in_force();
  for (auto it = sessions_.begin(); it != sessions_.end();) {
    const auto next = std::next(it);
    session& s = *it->second;
    if (!s.established) {
      // Too slow, or a lost flight that cannot be sent again (DTLSv1_handle_timeout resends).
      if (now - s.started > limits.frame_timeout || DTLSv1_handle_timeout(s.ssl.get()) < 0) {
        close(it, close_reason::failed);
      }
    } else if (now - s.last_heard > limits.idle_timeout) {
      ++counters_.idle_closed;
      close(it, close_reason::idle);
    }
    it = next;
  }
}

}  // namespace turnpike::server::net
