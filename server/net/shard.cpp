// SPDX-License-Identifier: Apache-2.0
// Shard lifecycle, listeners, the engine's inputs and single timer, and answers to clients.
#include "server/net/shard.hpp"

#include <pthread.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/asio/post.hpp>
#include <cerrno>
#include <ctime>
#include <string>

#include "server/net/asio_address.hpp"
#include "server/net/shard_packing.hpp"
#include "server/net/socket_setup.hpp"
#include "server/net/stream_connection.hpp"
#include "server/net/tcp_listener.hpp"
#include "server/net/udp_socket.hpp"

namespace turnpike::server::net {
namespace {

// A listener's socket: SO_REUSEADDR and SO_REUSEPORT (every shard binds the same address).
// Throws boost::system::system_error.
int bind_listener(int type, const protocol::transport_address& local) {
  const int fd = bind_socket(type, local, {.reuse_address = true, .reuse_port = true});
  if (fd < 0) {
    throw boost::system::system_error(errno, boost::system::system_category(),
                                      "bind " + local.to_string());
  }
  return fd;
}

}  // namespace

shard::shard(unsigned index)
    : index_(index), rng_(std::random_device{}()), poll_(io_, *this), timer_(io_) {}

shard::~shard() {
  stop();
  join();
}

void shard::give_back_spares() noexcept {
  if (relays_) relays_->give_back_spares();
}

void shard::open_mux_sockets(const std::vector<protocol::transport_address>& ips, relay_mux& mux) {
  mux_ = std::make_unique<mux_relays>(*this, mux);
  mux_->open_sockets(ips);
}

void shard::init_engine(engine::engine_settings settings, engine_stores stores, relay_setup relays,
                        stream_limits limits) {
  packing_ = relays.packing;
  if (packing_ != nullptr) {
    for (const auto& u : udp_) packing_->add_listener(u->local(), index_, u->fd());
  }
  limits_ = limits;
  admission_ = stream_admission(limits.per_ip);
  relays_.emplace(*this, std::move(relays), std::move(mux_));
  stores_.emplace(stores.keys, stores.quota, &shard::now, [this] { rearm_timer(); });
  engine_.emplace(std::move(settings), *this, &*relays_, &*stores_, relays_->setup().kernel);
  stores_->attach(*engine_);
}

engine::instant shard::now() noexcept {
  return {engine::clock::now(), static_cast<std::int64_t>(std::time(nullptr))};
}

protocol::transport_address shard::open_udp(const protocol::transport_address& local,
                                            std::shared_ptr<boost::asio::ssl::context> dtls) {
  const int fd = bind_listener(SOCK_DGRAM, local);
  boost::asio::ip::udp::socket s(io_);
  boost::system::error_code ec;
  s.assign(to_endpoint<boost::asio::ip::udp>(local).protocol(), fd, ec);
  if (ec) {
    ::close(fd);
    throw boost::system::system_error(ec, "assign");
  }
  const auto bound = from_endpoint(s.local_endpoint());
  udp_.push_back(std::make_unique<udp_socket>(*this, std::move(s), bound, std::move(dtls)));
  poll_.watch(udp_.back()->fd(),
              {poll_key::kind::listener, static_cast<std::uint32_t>(udp_.size() - 1)});
  return bound;
}

protocol::transport_address shard::open_tcp(const protocol::transport_address& local,
                                            std::shared_ptr<boost::asio::ssl::context> tls) {
  const int fd = bind_listener(SOCK_STREAM, local);
  boost::asio::ip::tcp::acceptor a(io_);
  boost::system::error_code ec;
  a.assign(to_endpoint<boost::asio::ip::tcp>(local).protocol(), fd, ec);
  if (ec) {
    ::close(fd);
    throw boost::system::system_error(ec, "assign");
  }
  a.listen(boost::asio::socket_base::max_listen_connections);
  const auto bound = from_endpoint(a.local_endpoint());
  tcp_.push_back(std::make_unique<tcp_listener>(*this, std::move(a), bound, std::move(tls)));
  return bound;
}

void shard::start() {
  work_.emplace(io_.get_executor());
  poll_.start();
  for (auto& t : tcp_) t->start();
  thread_ = std::thread([this] {
    try {
      io_.run();
    } catch (const std::exception& e) {
      spdlog::critical("shard {} stopped by an exception: {}", index_, e.what());
    }
  });
  // "turnpike-s0", ...: what top -H, perf and gdb show for the thread (15 characters at most),
  // named here so it carries the name before start() returns.
  const std::string name = "turnpike-s" + std::to_string(index_);
  ::pthread_setname_np(thread_.native_handle(), name.c_str());
}

void shard::reload_tls(const std::shared_ptr<boost::asio::ssl::context>& tls,
                       const std::shared_ptr<boost::asio::ssl::context>& dtls) {
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
    if (relays_) relays_->close_all();
    if (mux_) mux_->close_sockets();  // start-up stopped before the engine was made
    out_.flush();
    for (auto& u : udp_) u->close();
    poll_.close();
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

void shard::on_peer_packet(engine::relay_id id, const protocol::transport_address& peer,
                           protocol::byte_span bytes) noexcept {
  engine_->on_peer_packet(id, peer, bytes, now());
}

void shard::on_peer_connected(std::uint32_t connection_id, bool ok) noexcept {
  engine_->on_peer_connected(connection_id, ok);
  rearm_timer();
}

bool shard::on_peer_tcp_connection(engine::relay_id id, const protocol::transport_address& peer,
                                   const engine::engine::connection_holder& hold) noexcept {
  return engine_->on_peer_tcp_connection(id, peer, now(), hold);
}

stream_connection* shard::client_connection(const engine::five_tuple& path) noexcept {
  const auto it = connections_.find(path);
  return it == connections_.end() ? nullptr : it->second;
}

std::future<std::vector<engine::session_info>> shard::sessions(engine::session_filter filter) {
  return on_own_thread([this, filter = std::move(filter)] {
    return engine_ ? engine_->sessions(filter, now()) : std::vector<engine::session_info>{};
  });
}

std::future<std::size_t> shard::end_sessions(engine::session_filter filter) {
  return on_own_thread([this, filter = std::move(filter)]() -> std::size_t {
    return engine_ ? engine_->end_sessions(filter) : 0;
  });
}

std::future<shard_snapshot> shard::snapshot() {
  return on_own_thread([this] {
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
    s.send_failures = out_.failures();
    s.stream_timeouts = stream_timeouts_;
    s.streams_refused = admission_.refused();
    s.stream_connections = connections_.size();
    if (relays_) {
      s.relay_sockets = relays_->open_relays();
      s.mux_dropped = relays_->mux_dropped();
    }
    timespec cpu{};
    if (::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &cpu) == 0) {
      s.cpu_seconds = static_cast<double>(cpu.tv_sec) + static_cast<double>(cpu.tv_nsec) / 1e9;
    }
    return s;
  });
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

bool shard::read_ready(poll_key key) noexcept {
  if (key.what == poll_key::kind::listener) {
    return key.number < udp_.size() && udp_[key.number]->read();
  }
  return relays_ && relays_->read(key);
}

void shard::round_started() noexcept {
  round_.emplace(out_);  // this round's datagrams leave when it ends
}

void shard::round_ended(int) noexcept {
  round_.reset();
  if (packing_ != nullptr) packing_->report(index_, receive_->received());
}

void shard::send_to_client(const engine::five_tuple& path, protocol::byte_span bytes) {
  if (!engine::is_stream(path.proto)) {
    for (auto& u : udp_) {
      if (u->local() == path.local) {
        if (path.proto == engine::transport::udp) {
          u->send_to(path.remote, bytes);
        } else if (!u->send_dtls(path.remote, bytes)) {
          out_.count_failure();
        }
        return;
      }
    }
    out_.count_failure();  // no socket at that address (should not happen)
    return;
  }
  const auto it = connections_.find(path);
  if (it == connections_.end()) {
    out_.count_failure();
    return;
  }
  it->second->send(bytes);
}

void shard::add_connection(const engine::five_tuple& t, stream_connection* c) {
  connections_[t] = c;
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

}  // namespace turnpike::server::net
