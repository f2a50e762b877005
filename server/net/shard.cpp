// SPDX-License-Identifier: Apache-2.0
// Shard lifecycle, socket binding with SO_REUSEPORT, response routing, relay sockets and the
// engine's single timer.
#include "server/net/shard.hpp"

#include <netinet/in.h>
#include <pthread.h>
#include <spdlog/spdlog.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <unistd.h>

#include <boost/asio/detail/socket_option.hpp>
#include <boost/asio/ip/v6_only.hpp>
#include <boost/asio/post.hpp>
#include <cerrno>
#include <ctime>
#include <string>

#include "server/net/asio_address.hpp"
#include "server/net/descriptor_pressure.hpp"
#include "server/net/relay_mux.hpp"
#include "server/net/relay_socket.hpp"
#include "server/net/shard_packing.hpp"
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

shard::shard(unsigned index)
    : index_(index), timer_(io_), poll_(io_), spare_timer_(io_), rng_(std::random_device{}()) {
  const int fd = ::epoll_create1(EPOLL_CLOEXEC);
  if (fd < 0) {
    throw boost::system::system_error(errno, boost::system::system_category(), "epoll_create1");
  }
  poll_.assign(fd);
  rlimit nofile{};
  if (::getrlimit(RLIMIT_NOFILE, &nofile) == 0) descriptor_limit_ = nofile.rlim_cur;
}

void shard::give_back_spares() noexcept {
  expire_spares(true);
}

void shard::init_engine(engine::engine_settings settings, engine_stores stores, relay_setup relays,
                        stream_limits limits) {
  relay_setup_ = std::move(relays);
  if (relay_setup_.packing != nullptr) {
    for (const auto& u : udp_) relay_setup_.packing->add_listener(u->local(), index_, u->fd());
  }
  limits_ = limits;
  stores_.emplace(stores.keys, stores.quota, &shard::now, [this] { rearm_timer(); });
  engine_.emplace(std::move(settings), *this, this, &*stores_);
  stores_->attach(*engine_);
}

shard::~shard() {
  stop();
  join();
  close_mux_sockets();  // if start-up stopped before the shard ran
  expire_spares(true);
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
  watch_udp(udp_.back()->fd(), listener_key | (udp_.size() - 1));
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
  arm_poll();
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
    flush_sends();
    expire_spares(true);
    spare_timer_.cancel();
    close_mux_sockets();
    for (auto& u : udp_) u->close();
    boost::system::error_code ignored;
    poll_.close(ignored);
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
  mux_dropped += o.mux_dropped;
  cpu_seconds += o.cpu_seconds;
  return *this;
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
    s.send_failures = send_failures_;
    s.stream_timeouts = stream_timeouts_;
    s.streams_refused = streams_refused_;
    s.stream_connections = connections_.size();
    s.relay_sockets = relays_.size() + tcp_relays_.size() + mux_relays_.size();
    s.mux_dropped = mux_dropped_;
    timespec cpu{};
    if (::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &cpu) == 0) {
      s.cpu_seconds = static_cast<double>(cpu.tv_sec) + static_cast<double>(cpu.tv_nsec) / 1e9;
    }
    return s;
  });
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

void shard::watch_udp(int fd, std::uint64_t key, bool rekey) {
  epoll_event e{};
  e.events = EPOLLIN | EPOLLET;
  e.data.u64 = key;
  if (::epoll_ctl(poll_.native_handle(), rekey ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, fd, &e) != 0) {
    throw boost::system::system_error(errno, boost::system::system_category(), "epoll_ctl");
  }
}

void shard::arm_poll() {
  poll_.async_wait(boost::asio::posix::stream_descriptor::wait_read,
                   [this](const boost::system::error_code& ec) {
                     if (ec || !poll_.is_open()) return;  // stopping
                     on_poll();
                     arm_poll();
                   });
}

void shard::on_poll() {
  int n = poll_round();
  // Busy: poll the set again here, rather than through Asio's loop (its epoll_wait and the
  // re-arm's epoll_ctl), while rounds keep finding datagrams: 3 system calls a round instead
  // of 5. Idle: a round that finds nothing costs a call, so after one such round the shard
  // tries again only every repoll_probe_every wake-ups until one finds some. Bounded, so
  // timers, streams and posted work still get their turn; stopped when a socket is left for
  // drain_again.
  for (unsigned round = 1; n > 0 && round < max_poll_rounds && again_.empty(); ++round) {
    if (!repoll_hits_ && (++repoll_probe_ % repoll_probe_every) != 0) break;
    n = poll_round();
    repoll_hits_ = n > 0;
  }
  schedule_again();
}

int shard::poll_round() {
  const batch_scope batch(*this);  // this round's datagrams leave when it ends
  std::array<epoll_event, 64> ready;
  // Events beyond the 64 stay in the set's ready list; the next round or the re-arm finds them.
  const int n = ::epoll_wait(poll_.native_handle(), ready.data(), ready.size(), 0);
  for (int i = 0; i < n; ++i) {
    const std::uint64_t key = ready[i].data.u64;  // a copy: epoll_event is packed on x86-64
    if (drain_key(key)) again_.push_back(key);
  }
  if (relay_setup_.packing != nullptr) relay_setup_.packing->report(index_, receive_->received());
  return n;
}

void shard::schedule_again() {
  if (again_.empty() || again_posted_) return;
  again_posted_ = true;
  boost::asio::post(io_, [this] { drain_again(); });
}

void shard::drain_again() {
  again_posted_ = false;
  const batch_scope batch(*this);
  // Swapped, not moved: both vectors keep their capacity, so no round allocates.
  draining_.swap(again_);
  for (const std::uint64_t key : draining_) {
    if (drain_key(key)) again_.push_back(key);
  }
  draining_.clear();
  schedule_again();
}

bool shard::drain_key(std::uint64_t key) noexcept {
  if ((key & mux_key) != 0) return drain_mux(key & 1);
  if ((key & listener_key) != 0) {
    const std::size_t index = key & 0xffffffffu;
    return index < udp_.size() && udp_[index]->drain();
  }
  const auto it = relays_.find(static_cast<engine::relay_id>(key));
  if (it == relays_.end()) return false;                  // closed since the event was queued
  const std::shared_ptr<relay_socket> keep = it->second;  // the engine may close it meanwhile
  return (key & connected_key) != 0 ? keep->drain_connected() : keep->drain();
}

bool shard::send_datagram(int fd, const protocol::transport_address& to, protocol::byte_span bytes,
                          protocol::byte_span header) noexcept {
  if (batching_ > 0) {
    send_failures_ += send_->push(fd, to, bytes, header);
    return true;  // a failure at flush is counted there
  }
  sockaddr_storage sa;
  iovec iov[2] = {{const_cast<std::uint8_t*>(header.data()), header.size()},
                  {const_cast<std::uint8_t*>(bytes.data()), bytes.size()}};
  msghdr h{};
  h.msg_name = &sa;
  h.msg_namelen = to_sockaddr(to, sa);
  h.msg_iov = header.empty() ? iov + 1 : iov;
  h.msg_iovlen = header.empty() ? 1 : 2;
  return ::sendmsg(fd, &h, MSG_DONTWAIT) >= 0;
}

void shard::send_connected(int fd, protocol::byte_span bytes) noexcept {
  // Always through the send batch, which alone knows a connected socket's pending ICMP error;
  // outside the poller's scope this one leaves at once, and a failure is counted at flush.
  const batch_scope batch(*this);
  send_failures_ += send_->push_connected(fd, bytes);
}

bool shard::may_hold_more(int fd) const noexcept {
  return !descriptors_short() && static_cast<rlim_t>(fd) < descriptor_limit_ / 2;
}

int shard::connect_relay(const relay_socket& r, const protocol::transport_address& peer) noexcept {
  // A second descriptor for one allocation: only with room to spare, as for spares.
  if (!poll_.is_open() || r.fd() < 0 || !may_hold_more(r.fd())) return -1;
  // What went out unconnected leaves first, so the switch reorders nothing.
  flush_sends();
  // The relay socket joins a reuseport group only now, after its own bind: a socket that
  // binds the port without SO_REUSEPORT (another allocation's port probe) is still refused.
  const int on = 1;
  if (::setsockopt(r.fd(), SOL_SOCKET, SO_REUSEPORT, &on, sizeof on) != 0) return -1;
  const int fd = bind_relay(r.local(), r.dont_fragment(), true);
  if (fd < 0) {
    note_descriptor_error(errno);
    return -1;
  }
  sockaddr_storage sa;
  const socklen_t len = to_sockaddr(peer, sa);
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&sa), len) != 0) {
    ::close(fd);
    return -1;
  }
  tune_udp_socket(fd, relay_buffer_bytes, 0);
  try {
    watch_udp(fd, connected_key | r.id());
  } catch (const boost::system::system_error&) {
    ::close(fd);
    return -1;
  }
  return fd;
}

void shard::flush_sends() noexcept {
  send_failures_ += send_->flush();
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

int shard::bind_relay(const protocol::transport_address& at, bool dont_fragment,
                      bool reuse_port) noexcept {
  const bool v4 = at.family == protocol::address_family::ipv4;
  const int fd = ::socket(v4 ? AF_INET : AF_INET6, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  const int on = 1;
  if (!v4) ::setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof on);
  if (reuse_port) ::setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &on, sizeof on);
  sockaddr_storage sa;
  const socklen_t len = to_sockaddr(at, sa);
  if (::bind(fd, reinterpret_cast<const sockaddr*>(&sa), len) != 0) {
    ::close(fd);
    return -1;
  }
  if (dont_fragment) {
    // RFC 8656 section 7.2 step 4: DF on every datagram the relay sends.
    if (v4) {
      const int v = IP_PMTUDISC_DO;
      ::setsockopt(fd, IPPROTO_IP, IP_MTU_DISCOVER, &v, sizeof v);
    } else {
      ::setsockopt(fd, IPPROTO_IPV6, IPV6_DONTFRAG, &on, sizeof on);
    }
  }
  return fd;
}

const protocol::transport_address* shard::relay_ip(protocol::address_family family) noexcept {
  const protocol::transport_address* chosen = nullptr;
  unsigned seen = 0;
  for (const auto& candidate : relay_setup_.ips) {
    // One of this family's addresses, each as likely (reservoir sampling of one).
    if (candidate.family == family && rng_() % ++seen == 0) chosen = &candidate;
  }
  return chosen;
}

int shard::take_spare(protocol::address_family family, bool dont_fragment,
                      protocol::transport_address& local) noexcept {
  expire_spares();
  if (spares_.empty()) return -1;
  // From a random place, so the next allocation's port is not simply the last one freed.
  const std::size_t from = rng_() % spares_.size();
  for (std::size_t k = 0; k < spares_.size(); ++k) {
    const std::size_t i = (from + k) % spares_.size();
    spare_relay& s = spares_[i];
    if (s.dont_fragment != dont_fragment || s.local.family != family) continue;
    const int fd = s.fd;
    local = s.local;
    spares_.erase(spares_.begin() + static_cast<std::ptrdiff_t>(i));
    // What peers of the deleted allocation sent meanwhile is not the new one's: one
    // datagram per call into a byte of buffer (MSG_TRUNC), usually none but the EAGAIN.
    std::uint8_t byte;
    int discarded = 0;
    while (::recv(fd, &byte, sizeof byte, MSG_DONTWAIT | MSG_TRUNC) >= 0) {
      if (++discarded == 4096) {  // a flood: let this socket go
        ::close(fd);
        return -1;
      }
    }
    return fd;
  }
  return -1;
}

bool shard::keep_spare(relay_socket& r) noexcept {
  // In a small port range the spares of every shard together could hold the ports a new
  // allocation needs (this shard can give back only its own): none kept there.
  if (relay_setup_.max_port + 1u - relay_setup_.min_port < min_range_for_spares) return false;
  if (spares_.size() >= max_spares || r.fd() < 0 || !poll_.is_open()) return false;
  if (!may_hold_more(r.fd())) return false;
  // Still in the poller under the deleted relay's key: events for it find no relay and are
  // ignored until take_spare re-keys it.
  spares_.push_back({r.release(), r.local(), r.dont_fragment(), std::chrono::steady_clock::now()});
  arm_spare_timer();
  return true;
}

void shard::expire_spares(bool all) noexcept {
  const auto cutoff = std::chrono::steady_clock::now() - spare_lifetime;
  std::size_t n = 0;
  while (n < spares_.size() && (all || spares_[n].since <= cutoff)) ::close(spares_[n++].fd);
  spares_.erase(spares_.begin(), spares_.begin() + static_cast<std::ptrdiff_t>(n));
}

void shard::arm_spare_timer() {
  if (spare_timer_armed_ || spares_.empty()) return;
  spare_timer_armed_ = true;
  spare_timer_.expires_at(spares_.front().since + spare_lifetime);
  spare_timer_.async_wait([this](const boost::system::error_code& ec) {
    spare_timer_armed_ = false;
    if (ec) return;  // stopping
    expire_spares();
    arm_spare_timer();
  });
}

std::optional<engine::opened_relay> shard::open_relay(const engine::relay_request& request,
                                                      engine::relay_error& why) {
  auto opened = open_relay_here(request, why);
  // shard-packing: a UDP client is pinned to this shard with its allocation's first relay and
  // unpinned with it. A failed pin (the map full) leaves the client to the program's hash,
  // which may take it to another shard: its allocation is unknown there (437), as with the
  // kernel's hash alone.
  if (opened && relay_setup_.packing != nullptr && request.client &&
      request.client->proto == engine::transport::udp) {
    if (!relay_setup_.packing->pin(request.client->local, request.client->remote, index_)) {
      spdlog::debug("shard-packing: cannot pin {}", request.client->remote.to_string());
    }
    pinned_.emplace(opened->id, *request.client);
  }
  return opened;
}

std::optional<engine::opened_relay> shard::open_relay_here(const engine::relay_request& request,
                                                           engine::relay_error& why) {
  // Held sockets past their 30 s go back first (an unused EVEN-PORT reservation, a peer
  // connection nobody bound), so they never keep ports or descriptors longer.
  if (relay_setup_.reservations != nullptr) relay_setup_.reservations->expire();
  if (relay_setup_.tcp_connections != nullptr) relay_setup_.tcp_connections->expire();
  if (request.tcp) {
    // RFC 6062: a listening socket on the relayed address; outgoing connections to peers
    // are bound to the same address (SO_REUSEADDR/SO_REUSEPORT on both).
    if (relay_ip(request.family) == nullptr || relay_setup_.tcp_connections == nullptr) {
      why = engine::relay_error::no_such_family;
      return std::nullopt;
    }
    const unsigned lo = relay_setup_.min_port, hi = relay_setup_.max_port;
    for (int attempt = 0; attempt < 64; ++attempt) {
      protocol::transport_address at = *relay_ip(request.family);
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
  if (relay_setup_.mux != nullptr) return open_mux_relay(request, why);
  int fd = -1;
  bool reused = false;  // a spare socket, already tuned and in the poller
  engine::opened_relay out;
  if (request.token) {
    auto held = relay_setup_.reservations->take(*request.token);
    if (!held) {
      why = engine::relay_error::bad_token;
      return std::nullopt;
    }
    fd = held->first;
    out.local = held->second;
  } else {
    if (relay_ip(request.family) == nullptr) {
      why = engine::relay_error::no_such_family;
      return std::nullopt;
    }
    if (!request.even_port && !request.reserve_next) {
      fd = take_spare(request.family, request.dont_fragment, out.local);
      reused = fd >= 0;
    }
    const unsigned lo = relay_setup_.min_port, hi = relay_setup_.max_port;
    bool spares_closed = false;
    for (int attempt = 0; fd < 0; ++attempt) {
      if (attempt == 64) {
        // The ports the spares hold may be the ones missing (a nearly full range, an even
        // pair): they are given back, and as many tries again.
        if (spares_closed || spares_.empty()) break;
        expire_spares(true);
        spares_closed = true;
        attempt = 0;
      }
      unsigned port = lo + static_cast<unsigned>(rng_() % (hi - lo + 1));
      if (request.even_port) port &= ~1u;
      if (port < lo || (request.reserve_next && port + 1 > hi)) continue;
      protocol::transport_address at = *relay_ip(request.family);
      at.port = static_cast<std::uint16_t>(port);
      fd = bind_relay(at, request.dont_fragment);
      if (fd < 0) {
        // Out of descriptors: the spares give theirs back first.
        if (note_descriptor_error(errno)) expire_spares(true);
        continue;
      }
      if (request.reserve_next) {
        protocol::transport_address next = at;
        next.port = static_cast<std::uint16_t>(port + 1);
        const int kept = bind_relay(next, false);
        if (kept < 0) {
          ::close(fd);
          fd = -1;
          continue;
        }
        out.reserved = relay_setup_.reservations->put(kept, next);
      }
      out.local = at;
    }
    if (fd < 0) {
      why = engine::relay_error::no_port;
      return std::nullopt;
    }
  }
  out.id = next_relay_++;
  auto r =
      std::make_shared<relay_socket>(*this, out.id, fd, out.local, request.dont_fragment, reused);
  try {
    watch_udp(fd, out.id, reused);
  } catch (const boost::system::system_error&) {
    why = engine::relay_error::no_port;
    return std::nullopt;  // r closes the socket
  }
  relays_.emplace(out.id, std::move(r));
  return out;
}

void shard::close_relay(engine::relay_id id) {
  if (const auto it = pinned_.find(id); it != pinned_.end()) {
    relay_setup_.packing->unpin(it->second.local, it->second.remote);
    pinned_.erase(it);
  }
  // Datagrams queued for this socket leave before its descriptor can be reused.
  flush_sends();
  if (const auto it = relays_.find(id); it != relays_.end()) {
    if (!keep_spare(*it->second)) it->second->close();
    relays_.erase(it);
  }
  if (const auto it = tcp_relays_.find(id); it != tcp_relays_.end()) {
    it->second.second->close();
    tcp_relays_.erase(it);
  }
  if (const auto it = mux_relays_.find(id); it != mux_relays_.end()) {
    relay_setup_.mux->close(it->second.local);
    mux_ids_.erase(it->second.local);
    mux_relays_.erase(it);
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
  const int fd = peer.release();
  const bool offered = engine_->on_peer_tcp_connection(
      id, from_endpoint(remote), now(),
      [this, fd](std::uint32_t connection_id, engine::tcp_connection_credentials credentials) {
        // false on a connection id collision: the client is not told of this one
        return relay_setup_.tcp_connections->put(connection_id, fd, std::move(credentials));
      });
  spdlog::debug("tcp relay {}: peer {} {}", id, from_endpoint(remote).to_string(),
                offered ? "offered to the client" : "refused");
  if (!offered) ::close(fd);
}

void shard::send_to_peer(engine::relay_id id, const protocol::transport_address& peer,
                         protocol::byte_span bytes) {
  if (const auto it = relays_.find(id); it != relays_.end()) {
    it->second->send_to(peer, bytes);
    return;
  }
  const auto m = mux_relays_.find(id);
  if (m == mux_relays_.end()) return;
  // From the relayed address, through the shard's raw socket: headers written here.
  std::uint8_t header[48];
  const std::size_t n = build_udp_headers(m->second.local, peer, bytes.data(), bytes.size(),
                                          m->second.dont_fragment, header);
  const int fd = mux_out_[m->second.local.family == protocol::address_family::ipv6 ? 1 : 0];
  protocol::transport_address to = peer;
  to.port = 0;  // raw sockets take no port (IPv6 refuses any other than 0 or the protocol)
  if (n == 0 || fd < 0 || !send_datagram(fd, to, bytes, protocol::byte_span(header, n))) {
    ++send_failures_;
  }
}

void shard::open_mux_sockets(const std::vector<protocol::transport_address>& ips, relay_mux& mux) {
  auto fail = [](const char* what) {
    throw boost::system::system_error(errno, boost::system::system_category(),
                                      std::string("relay-mux: ") + what);
  };
  for (const auto& ip : ips) {
    const bool v6 = ip.family == protocol::address_family::ipv6;
    const std::size_t f = v6 ? 1 : 0;
    if (mux_in_[f] >= 0) continue;
    const int domain = v6 ? AF_INET6 : AF_INET;
    // Receive: bound to the relay IP on a port of the kernel's choosing; the program steers
    // every relayed address of this shard here, and IP(V6)_ORIGDSTADDR names which.
    mux_in_[f] = ::socket(domain, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (mux_in_[f] < 0) fail("socket");
    const int on = 1;
    if (v6) ::setsockopt(mux_in_[f], IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof on);
    if (::setsockopt(mux_in_[f], v6 ? SOL_IPV6 : SOL_IP,
                     v6 ? IPV6_RECVORIGDSTADDR : IP_RECVORIGDSTADDR, &on, sizeof on) != 0) {
      fail("IP_RECVORIGDSTADDR");
    }
    protocol::transport_address any_port = ip;
    any_port.port = 0;
    sockaddr_storage sa;
    const socklen_t len = to_sockaddr(any_port, sa);
    if (::bind(mux_in_[f], reinterpret_cast<const sockaddr*>(&sa), len) != 0) fail("bind");
    tune_udp_socket(mux_in_[f], socket_buffer_bytes, 0);
    mux.add_socket(relay_mux::slot(index_, ip.family), mux_in_[f]);
    watch_udp(mux_in_[f], mux_key | f);
    // Send: a raw socket writing whole IP datagrams (IPPROTO_RAW: send only, header included).
    mux_out_[f] = ::socket(domain, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_RAW);
    if (mux_out_[f] < 0) fail("raw socket (needs CAP_NET_RAW)");
    const int buffer = socket_buffer_bytes;
    ::setsockopt(mux_out_[f], SOL_SOCKET, SO_SNDBUF, &buffer, sizeof buffer);
  }
}

void shard::close_mux_sockets() noexcept {
  for (int& fd : mux_in_) {
    if (fd >= 0) ::close(fd);
    fd = -1;
  }
  for (int& fd : mux_out_) {
    if (fd >= 0) ::close(fd);
    fd = -1;
  }
}

bool shard::drain_mux(std::size_t family) noexcept {
  return drain_socket_to(*receive_, mux_in_[family],
                         [this](const protocol::transport_address& from,
                                const protocol::transport_address* to, protocol::byte_span bytes) {
                           const auto it = to != nullptr ? mux_ids_.find(*to) : mux_ids_.end();
                           if (it == mux_ids_.end()) {
                             ++mux_dropped_;  // closed since it was queued
                             return;
                           }
                           on_peer_packet(it->second, from, bytes);
                         });
}

std::optional<engine::opened_relay> shard::open_mux_relay(const engine::relay_request& request,
                                                          engine::relay_error& why) {
  const std::size_t f = request.family == protocol::address_family::ipv6 ? 1 : 0;
  std::optional<protocol::transport_address> at;
  std::optional<engine::reservation_token> reserved;
  if (request.token) {
    at = relay_setup_.mux->claim(*request.token, index_);
    if (!at) {
      why = engine::relay_error::bad_token;
      return std::nullopt;
    }
  } else {
    if (mux_in_[f] < 0) {
      why = engine::relay_error::no_such_family;
      return std::nullopt;
    }
    auto opened =
        relay_setup_.mux->open(request.family, request.even_port, request.reserve_next, index_);
    if (!opened) {
      why = engine::relay_error::no_port;
      return std::nullopt;
    }
    at = opened->relayed;
    reserved = opened->token;
  }
  engine::opened_relay out;
  out.id = next_relay_++;
  out.local = *at;
  out.reserved = reserved;
  mux_relays_.emplace(out.id, mux_relay{*at, request.dont_fragment});
  mux_ids_.emplace(*at, out.id);
  return out;
}

}  // namespace turnpike::server::net
