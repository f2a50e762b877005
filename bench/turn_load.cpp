// SPDX-License-Identifier: Apache-2.0
// turn_load: a TURN load generator for comparing servers on one machine.
//
//   relay    N sessions, each a UDP allocation with long-term credentials and a channel bound
//            to a built-in UDP echo peer (one per worker thread); ChannelData at a fixed
//            offered rate per session (or flat out with --rate 0), payload carrying a sequence
//            number and a send time. Reports offered and delivered round trips per second,
//            loss, the datagrams the generator's own sockets dropped, round-trip latency
//            percentiles, and the server's CPU time (from /proc/PID/stat) per round trip.
//   binding  N sockets sending Binding requests flat out: answers per second and per server
//            CPU second.
//   allocate N workers each allocating (401 challenge, then authenticated) and deleting
//            (Refresh 0) in a loop: allocations per second and per server CPU second.
//   idle     N allocations made and held (no traffic), for the server's resident memory.
//
// Output: one line of key=value pairs (bench/run.sh collects them).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <fstream>
#include <iostream>
#include <mutex>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "protocol/attr_address.hpp"
#include "protocol/attr_error.hpp"
#include "protocol/attr_text.hpp"
#include "protocol/attr_turn.hpp"
#include "protocol/builder.hpp"
#include "protocol/long_term_key.hpp"
#include "protocol/message.hpp"

namespace {

namespace p = turnpike::protocol;
using clock_type = std::chrono::steady_clock;

struct options {
  std::string server = "127.0.0.1";
  std::uint16_t port = 3478;
  std::string user = "bench";
  std::string password = "bench";
  std::string mode = "relay";
  unsigned sessions = 16;
  unsigned payload = 160;
  double rate = 50;  // round trips per second per session (relay); 0: flat out
  double duration = 10;
  double warmup = 2;
  int server_pid = 0;
  unsigned threads = 1;
  unsigned inflight = 1;      // allocate: allocations under way at once per worker
  bool reuse_sockets = true;  // allocate: next allocation on the socket of a deleted one
  std::string client_ip;      // source address of the client sockets (default: the kernel's)
  unsigned client_port = 0;   // with client_ip: the first client's port, then one more each
  unsigned client_ips = 1;    // with client_port: addresses from client_ip the ports walk over
  double hold = 0;            // idle: seconds to keep the allocations after reporting
  bool direct = false;        // relay: no server, the sessions talk to the echo peers directly
  std::string peer_ip = "127.0.0.1";  // relay: the echo peers' address
};

sockaddr_in v4(const std::string& ip, std::uint16_t port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  inet_pton(AF_INET, ip.c_str(), &a.sin_addr);
  return a;
}

double server_cpu_seconds(int pid) {
  if (pid <= 0) return 0;
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  std::getline(stat, line);
  const auto close = line.rfind(')');
  if (close == std::string::npos) return 0;
  std::istringstream rest(line.substr(close + 2));
  std::vector<std::string> f;
  for (std::string x; rest >> x;) f.push_back(x);
  if (f.size() < 13) return 0;
  return (std::stod(f[11]) + std::stod(f[12])) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

// Idle CPU seconds of the whole machine, all CPUs, since boot (/proc/stat: idle and iowait).
// The machine's busy time over a window is then the window times the CPUs less the idle time
// in it: idle time is measured when a CPU enters and leaves idle, where the busy columns
// (user, system, softirq, ...) are sampled at the scheduler tick, which a generator that
// wakes on precise timers can dodge (a run at 40 000 round trips/s read 0.01 busy seconds in
// 4 s that way). Softirq and the sender's kernel work count, wherever they ran.
double machine_idle_seconds() {
  std::ifstream stat("/proc/stat");
  std::string cpu;
  std::uint64_t user = 0, nice = 0, system = 0, idle = 0, iowait = 0;
  stat >> cpu >> user >> nice >> system >> idle >> iowait;
  if (cpu != "cpu") return 0;
  return static_cast<double>(idle + iowait) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

// A receive buffer of `bytes`: past net.core.rmem_max when the generator may (as root), so
// its own sockets are not where a flood is lost.
void set_receive_buffer(int fd, int bytes) {
  if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &bytes, sizeof bytes) != 0) {
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &bytes, sizeof bytes);
  }
}

// Datagrams the kernel dropped at these UDP sockets (full receive buffers), from the "drops"
// column of /proc/net/udp and udp6, found by inode.
std::uint64_t socket_drops(const std::vector<int>& fds) {
  std::vector<unsigned long> inodes;
  for (int fd : fds) {
    struct stat st {};
    if (fstat(fd, &st) == 0) inodes.push_back(st.st_ino);
  }
  std::uint64_t drops = 0;
  for (const char* table : {"/proc/net/udp", "/proc/net/udp6"}) {
    std::ifstream in(table);
    std::string line;
    std::getline(in, line);  // header
    while (std::getline(in, line)) {
      std::istringstream fields(line);
      std::vector<std::string> f;
      for (std::string x; fields >> x;) f.push_back(x);
      // sl local rem st tx:rx tr:when retrnsmt uid timeout inode ref pointer drops
      if (f.size() < 13) continue;
      const unsigned long inode = std::stoul(f[9]);
      if (std::find(inodes.begin(), inodes.end(), inode) != inodes.end()) {
        drops += std::stoull(f[12]);
      }
    }
  }
  return drops;
}

long server_rss_bytes(int pid) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(status, line);) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6)) * 1024;
  }
  return 0;
}

// One client socket with its long-term credential state.
class client {
 public:
  // `big_buffers`: 4 MiB socket buffers (relay and binding floods); allocate churn needs none.
  explicit client(const options& o, bool big_buffers = true) : o_(o) {
    fd_ = ::socket(AF_INET, SOCK_DGRAM, 0);
    if (fd_ >= 0 && !o.client_ip.empty()) bind_source();
    const auto to = v4(o.server, o.port);
    if (fd_ < 0 || ::connect(fd_, reinterpret_cast<const sockaddr*>(&to), sizeof to) != 0) {
      throw std::runtime_error("client socket");
    }
    if (big_buffers) {
      const int buf = 4 << 20;
      set_receive_buffer(fd_, buf);
      setsockopt(fd_, SOL_SOCKET, SO_SNDBUF, &buf, sizeof buf);
    }
  }
  ~client() { ::close(fd_); }
  client(const client&) = delete;
  client& operator=(const client&) = delete;
  int fd() const { return fd_; }

  // A request with `fill`, signed once a nonce is known; answers a 401/438 once. Returns the
  // final code (0 = success) and keeps the success response's relayed address.
  template <class Fill>
  int transact(p::method m, Fill&& fill) {
    for (int round = 0; round < 3; ++round) {
      p::transaction_id tid{};
      for (auto& b : tid) b = static_cast<std::uint8_t>(rng()());
      std::array<std::uint8_t, 512> buf{};
      p::message_builder b(buf, m, p::msg_class::request, tid);
      fill(b);
      if (!nonce_.empty()) {
        b.add(p::attr::username, std::string_view(o_.user));
        b.add(p::attr::realm, std::string_view(realm_));
        b.add(p::attr::nonce, std::string_view(nonce_));
        b.add_message_integrity(key_);
      }
      auto out = b.finish();
      if (!out) return -1;
      if (::send(fd_, out->data(), out->size(), 0) < 0) return -1;
      for (;;) {
        pollfd pf{fd_, POLLIN, 0};
        if (::poll(&pf, 1, 3000) <= 0) return -1;
        std::array<std::uint8_t, 2048> in{};
        const auto n = ::recv(fd_, in.data(), in.size(), 0);
        if (n <= 0) return -1;
        auto msg = p::message_view::parse(p::byte_span(in.data(), static_cast<std::size_t>(n)));
        if (!msg || !std::equal(tid.begin(), tid.end(), in.begin() + 8)) continue;
        if (msg->cls() == p::msg_class::success_response) {
          if (auto r = msg->find(p::attr::xor_relayed_address)) {
            if (auto a = p::decode_xor_address(r->value, msg->tid_bytes())) relayed_ = *a;
          }
          return 0;
        }
        const auto ec = msg->find(p::attr::error_code);
        const int code = ec ? p::decode_error_code(ec->value)->code : -1;
        const auto nonce = msg->find(p::attr::nonce);
        const auto realm = msg->find(p::attr::realm);
        if ((code == 401 || code == 438) && nonce && realm && round < 2) {
          nonce_ = std::string(*p::decode_text(p::attr::nonce, nonce->value));
          realm_ = std::string(*p::decode_text(p::attr::realm, realm->value));
          key_ = p::long_term_key_md5(o_.user, realm_, o_.password);
          break;
        }
        return code;
      }
    }
    return -1;
  }
  // Without waiting: sends a signed request (the nonce must be known) and returns its
  // transaction ID, or nullopt when the send failed.
  template <class Fill>
  std::optional<p::transaction_id> send_request(p::method m, Fill&& fill) {
    p::transaction_id tid{};
    for (auto& b : tid) b = static_cast<std::uint8_t>(rng()());
    std::array<std::uint8_t, 512> buf{};
    p::message_builder b(buf, m, p::msg_class::request, tid);
    fill(b);
    b.add(p::attr::username, std::string_view(o_.user));
    b.add(p::attr::realm, std::string_view(realm_));
    b.add(p::attr::nonce, std::string_view(nonce_));
    b.add_message_integrity(key_);
    auto out = b.finish();
    if (!out || ::send(fd_, out->data(), out->size(), MSG_DONTWAIT) < 0) return std::nullopt;
    return tid;
  }
  // The answer to `tid` if one is queued: 0 success, an error code, or nullopt (none yet). A
  // 401/438 with a nonce updates this client's nonce.
  std::optional<int> answer(const p::transaction_id& tid) {
    for (;;) {
      std::array<std::uint8_t, 2048> in{};
      const auto n = ::recv(fd_, in.data(), in.size(), MSG_DONTWAIT);
      if (n <= 0) return std::nullopt;
      auto msg = p::message_view::parse(p::byte_span(in.data(), static_cast<std::size_t>(n)));
      if (!msg || !std::equal(tid.begin(), tid.end(), in.begin() + 8)) continue;
      if (msg->cls() == p::msg_class::success_response) return 0;
      const auto ec = msg->find(p::attr::error_code);
      const int code = ec ? p::decode_error_code(ec->value)->code : -1;
      const auto nonce = msg->find(p::attr::nonce);
      const auto realm = msg->find(p::attr::realm);
      if ((code == 401 || code == 438) && nonce && realm) {
        nonce_ = std::string(*p::decode_text(p::attr::nonce, nonce->value));
        realm_ = std::string(*p::decode_text(p::attr::realm, realm->value));
        key_ = p::long_term_key_md5(o_.user, realm_, o_.password);
      }
      return code;
    }
  }
  // Reuses another client's nonce and realm (a real client keeps its nonce; servers that bind
  // nonces to one five-tuple answer 438 and the exchange starts over).
  void seed(const client& other) {
    nonce_ = other.nonce_;
    realm_ = other.realm_;
    key_ = other.key_;
  }
  // Explicit ports when asked: the kernel's choice draws from one ephemeral range for every
  // source address, which caps a process at that range's size, and it hands out again, soon,
  // the port of an allocation the server may still hold. Ports client_port..65535 on each of
  // client_ips consecutive addresses from client_ip, in turn, then round again; a port in use
  // is skipped.
  void bind_source() {
    auto from = v4(o_.client_ip, 0);
    if (o_.client_port == 0) {
      if (::bind(fd_, reinterpret_cast<const sockaddr*>(&from), sizeof from) == 0) return;
    } else {
      static std::atomic<std::uint64_t> next{0};  // clients of every thread
      const std::uint64_t span = 65536 - o_.client_port;
      const std::uint32_t base = ntohl(from.sin_addr.s_addr);
      for (int attempt = 0; attempt < 256; ++attempt) {
        const std::uint64_t k = next++ % (span * std::max(1u, o_.client_ips));
        from.sin_addr.s_addr = htonl(base + static_cast<std::uint32_t>(k / span));
        from.sin_port = htons(static_cast<std::uint16_t>(o_.client_port + k % span));
        if (::bind(fd_, reinterpret_cast<const sockaddr*>(&from), sizeof from) == 0) return;
        if (errno != EADDRINUSE) break;
      }
    }
    throw std::runtime_error("client socket: cannot bind " + o_.client_ip);
  }
  int allocate() {
    return transact(p::method::allocate,
                    [](auto& b) { p::add_requested_transport(b, p::transport_udp); });
  }
  int remove() {
    return transact(p::method::refresh, [](auto& b) { b.add_u32(p::attr::lifetime, 0); });
  }
  int bind_channel(std::uint16_t number, const p::transport_address& peer) {
    return transact(p::method::channel_bind, [&](auto& b) {
      p::add_channel_number(b, number);
      p::add_xor_address(b, p::attr::xor_peer_address, peer);
    });
  }

 private:
  const options& o_;
  int fd_ = -1;
  std::string nonce_, realm_;
  p::md5_key key_{};
  p::transport_address relayed_;
  // One generator per thread, seeded once: the allocate test makes a client per allocation,
  // and seeding from std::random_device each time cost the generator a third of its CPU.
  static std::minstd_rand& rng() {
    thread_local std::minstd_rand r{std::random_device{}()};
    return r;
  }
};

// The built-in peer: echoes every datagram to its sender, in batches. One per relay worker,
// drained by that worker's own loop (no thread of its own: on two cores shared with the
// server, one more busy thread was where floods were lost).
class echo_peer {
 public:
  explicit echo_peer(const std::string& ip) {
    fd_ = ::socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
    auto a = v4(ip, 0);
    socklen_t len = sizeof a;
    if (fd_ < 0 || ::bind(fd_, reinterpret_cast<const sockaddr*>(&a), sizeof a) != 0 ||
        ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
      throw std::runtime_error("echo peer socket");
    }
    port_ = ntohs(a.sin_port);
    // Room for 32 MiB of datagrams, so a moment without the CPU does not lose any.
    set_receive_buffer(fd_, 32 << 20);
    const int buf = 8 << 20;
    setsockopt(fd_, SOL_SOCKET, SO_SNDBUF, &buf, sizeof buf);
  }
  ~echo_peer() { ::close(fd_); }
  echo_peer(const echo_peer&) = delete;
  echo_peer& operator=(const echo_peer&) = delete;
  std::uint16_t port() const { return port_; }
  int fd() const { return fd_; }

  // Echoes what is queued, at most 16 batches (then the worker's sends get their turn).
  void echo() {
    for (int round = 0; round < 16; ++round) {
      for (int i = 0; i < batch; ++i) {
        iov_[i] = {bufs_[i].data(), bufs_[i].size()};
        msgs_[i] = {};
        msgs_[i].msg_hdr.msg_iov = &iov_[i];
        msgs_[i].msg_hdr.msg_iovlen = 1;
        msgs_[i].msg_hdr.msg_name = &from_[i];
        msgs_[i].msg_hdr.msg_namelen = sizeof from_[i];
      }
      const int n = ::recvmmsg(fd_, msgs_.data(), batch, MSG_DONTWAIT, nullptr);
      if (n <= 0) return;
      for (int i = 0; i < n; ++i) iov_[i].iov_len = msgs_[i].msg_len;
      // Blocking on a full send buffer rather than dropping: the generator's own limits are
      // not the server's.
      for (int sent = 0; sent < n;) {
        const int r = ::sendmmsg(fd_, msgs_.data() + sent, static_cast<unsigned>(n - sent), 0);
        if (r <= 0) {
          if (errno == EAGAIN || errno == EWOULDBLOCK) {
            pollfd pf{fd_, POLLOUT, 0};
            ::poll(&pf, 1, 10);
            continue;
          }
          break;
        }
        sent += r;
      }
      if (n < batch) return;
    }
  }

 private:
  static constexpr int batch = 64;
  int fd_ = -1;
  std::uint16_t port_ = 0;
  std::array<std::array<std::uint8_t, 2048>, batch> bufs_{};
  std::array<sockaddr_in, batch> from_{};
  std::array<iovec, batch> iov_{};
  std::array<mmsghdr, batch> msgs_{};
};

// An allocated client. A server that keeps a deleted allocation's five-tuple for a while
// answers 437 when the kernel hands a new socket the same local port: the socket is kept
// (so the port stays taken) and another one tried.
std::unique_ptr<client> allocated_client(const options& o, const client* seed,
                                         std::vector<std::unique_ptr<client>>& spent) {
  for (int attempt = 0; attempt < 8; ++attempt) {
    auto c = std::make_unique<client>(o);
    if (seed != nullptr) c->seed(*seed);
    const int code = c->allocate();
    if (code == 0) return c;
    spent.push_back(std::move(c));
    if (code != 437) return nullptr;
  }
  return nullptr;
}

struct relay_stats {
  std::uint64_t sent = 0;
  std::uint64_t received = 0;
  std::vector<double> rtt_us;
};

// One thread's share of relay sessions: sends on schedule (what is due for a session in one
// sendmmsg), receives with recvmmsg. After `end` it stops sending and keeps receiving for
// `drain`, so packets still in flight when the window closes are not counted as lost.
void relay_worker(const options& o, std::vector<client*> sessions, echo_peer& peer,
                  clock_type::time_point start, clock_type::time_point measure_from,
                  clock_type::time_point end, relay_stats& out) {
  constexpr auto drain = std::chrono::milliseconds(500);
  const int ep = ::epoll_create1(0);
  for (std::size_t i = 0; i < sessions.size(); ++i) {
    epoll_event e{};
    e.events = EPOLLIN;
    e.data.u64 = i;
    epoll_ctl(ep, EPOLL_CTL_ADD, sessions[i]->fd(), &e);
  }
  constexpr std::uint64_t peer_key = ~std::uint64_t{0};
  {
    epoll_event e{};
    e.events = EPOLLIN;
    e.data.u64 = peer_key;
    epoll_ctl(ep, EPOLL_CTL_ADD, peer.fd(), &e);
  }
  const auto interval = o.rate > 0 ? std::chrono::duration_cast<clock_type::duration>(
                                         std::chrono::duration<double>(1.0 / o.rate))
                                   : clock_type::duration::zero();
  std::vector<clock_type::time_point> next(sessions.size(), start);
  constexpr int batch = 32;
  // ChannelData (RFC 8656 section 12.4): channel 0x4000, length, payload (send time and a
  // tagged sequence number, then zeros up to the requested size).
  const std::size_t size = 4 + o.payload;
  std::vector<std::vector<std::uint8_t>> packets(batch, std::vector<std::uint8_t>(size));
  for (auto& packet : packets) {
    packet[0] = 0x40;
    packet[1] = 0x00;
    packet[2] = static_cast<std::uint8_t>(o.payload >> 8);
    packet[3] = static_cast<std::uint8_t>(o.payload);
  }
  std::vector<iovec> out_iov(batch);
  std::vector<mmsghdr> out_msgs(batch);
  std::vector<std::array<std::uint8_t, 2048>> bufs(batch);
  std::vector<iovec> iov(batch);
  std::vector<mmsghdr> msgs(batch);
  std::uint64_t seq = 0;
  for (;;) {
    const auto now = clock_type::now();
    if (now >= end + drain) break;
    const bool sending = now < end;
    const bool measuring = now >= measure_from && sending;
    // Send what is due (flat out: one per session per pass; behind schedule: at most one
    // batch, never a burst to catch up).
    clock_type::time_point earliest = sending ? end : end + drain;
    for (std::size_t i = 0; sending && i < sessions.size(); ++i) {
      int due = 1;
      if (interval != clock_type::duration::zero()) {
        if (next[i] > now) {
          earliest = std::min(earliest, next[i]);
          continue;
        }
        due = static_cast<int>(std::min<std::int64_t>(batch, 1 + (now - next[i]) / interval));
      }
      const auto t = static_cast<std::uint64_t>(
          std::chrono::duration_cast<std::chrono::nanoseconds>(now.time_since_epoch()).count());
      for (int k = 0; k < due; ++k) {
        const std::uint64_t tagged = (++seq << 1) | (measuring ? 1 : 0);
        std::memcpy(packets[k].data() + 4, &t, 8);
        std::memcpy(packets[k].data() + 12, &tagged, 8);
        out_iov[k] = {packets[k].data(), size};
        out_msgs[k] = {};
        out_msgs[k].msg_hdr.msg_iov = &out_iov[k];
        out_msgs[k].msg_hdr.msg_iovlen = 1;
      }
      const int sent =
          ::sendmmsg(sessions[i]->fd(), out_msgs.data(), static_cast<unsigned>(due), MSG_DONTWAIT);
      if (sent > 0 && measuring) out.sent += static_cast<std::uint64_t>(sent);
      if (interval != clock_type::duration::zero()) {
        next[i] += interval * due;
        if (next[i] < now) next[i] = now + interval;  // behind: do not burst to catch up
        earliest = std::min(earliest, next[i]);
      }
    }
    // Receive until the next send is due, to the nanosecond (epoll_pwait2): a millisecond
    // timeout rounds the 400 us between sends at 2 500 round trips/s down to a busy loop,
    // and the generator would then fill the machine whatever the server does.
    const std::int64_t wait_ns =
        interval == clock_type::duration::zero() && sending
            ? 0
            : std::max<std::int64_t>(0, std::chrono::duration_cast<std::chrono::nanoseconds>(
                                            earliest - clock_type::now())
                                            .count());
    const timespec wait{static_cast<time_t>(wait_ns / 1000000000),
                        static_cast<long>(wait_ns % 1000000000)};
    std::array<epoll_event, 64> ready{};
    const int nready =
        epoll_pwait2(ep, ready.data(), static_cast<int>(ready.size()), &wait, nullptr);
    for (int r = 0; r < nready; ++r) {
      if (ready[r].data.u64 == peer_key) {
        peer.echo();
        continue;
      }
      client* c = sessions[ready[r].data.u64];
      for (;;) {
        for (int i = 0; i < batch; ++i) {
          iov[i] = {bufs[i].data(), bufs[i].size()};
          msgs[i] = {};
          msgs[i].msg_hdr.msg_iov = &iov[i];
          msgs[i].msg_hdr.msg_iovlen = 1;
        }
        const int got = ::recvmmsg(c->fd(), msgs.data(), batch, MSG_DONTWAIT, nullptr);
        if (got <= 0) break;
        const auto arrived =
            static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                           clock_type::now().time_since_epoch())
                                           .count());
        for (int i = 0; i < got; ++i) {
          if (msgs[i].msg_len < 4 + 16 || (bufs[i][0] & 0xC0) != 0x40) continue;
          std::uint64_t t = 0, tagged = 0;
          std::memcpy(&t, bufs[i].data() + 4, 8);
          std::memcpy(&tagged, bufs[i].data() + 12, 8);
          if ((tagged & 1) == 0) continue;  // sent during warm-up
          ++out.received;
          out.rtt_us.push_back(static_cast<double>(arrived - t) / 1000.0);
        }
        if (got < batch) break;
      }
    }
  }
  ::close(ep);
}

double percentile(std::vector<double>& v, double q) {
  if (v.empty()) return 0;
  const auto k = static_cast<std::size_t>(q * static_cast<double>(v.size() - 1));
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(k), v.end());
  return v[k];
}

int run_relay(const options& o) {
  // One echo peer per worker; worker t's sessions (every threads-th) relay to peer t.
  std::vector<std::unique_ptr<echo_peer>> peers;
  for (unsigned t = 0; t < o.threads; ++t) peers.push_back(std::make_unique<echo_peer>(o.peer_ip));
  std::vector<std::unique_ptr<client>> sessions, spent;
  // --direct: each session's socket is connected to its echo peer (options per peer, kept
  // here since a client refers to its options).
  std::vector<options> to_peer(o.threads, o);
  for (unsigned t = 0; t < o.threads; ++t) {
    to_peer[t].server = o.peer_ip;
    to_peer[t].port = peers[t]->port();
  }
  for (unsigned i = 0; i < o.sessions; ++i) {
    if (o.direct) {
      sessions.push_back(std::make_unique<client>(to_peer[sessions.size() % o.threads]));
      continue;
    }
    auto c = allocated_client(o, sessions.empty() ? nullptr : sessions.back().get(), spent);
    if (!c) {
      std::cerr << "turn_load: allocate failed\n";
      return 1;
    }
    const auto peer_addr =
        *p::transport_address::parse_ip(o.peer_ip, peers[sessions.size() % o.threads]->port());
    if (const int code = c->bind_channel(0x4000, peer_addr); code != 0) {
      std::cerr << "turn_load: channel bind failed: " << code << "\n";
      return 1;
    }
    sessions.push_back(std::move(c));
  }
  const auto start = clock_type::now();
  const auto measure_from = start + std::chrono::duration_cast<clock_type::duration>(
                                        std::chrono::duration<double>(o.warmup));
  const auto end = measure_from + std::chrono::duration_cast<clock_type::duration>(
                                      std::chrono::duration<double>(o.duration));
  std::vector<relay_stats> stats(o.threads);
  std::vector<std::thread> workers;
  // The generator's own sockets: datagrams they drop count as lost, but the server did not
  // lose them (reported apart as generator_drops).
  std::vector<int> own_fds;
  for (const auto& e : peers) own_fds.push_back(e->fd());
  for (const auto& c : sessions) own_fds.push_back(c->fd());
  double cpu_start = 0;
  double machine_start = 0;
  std::uint64_t drops_start = 0;
  std::thread cpu_mark([&] {
    std::this_thread::sleep_until(measure_from);
    cpu_start = server_cpu_seconds(o.server_pid);
    const double idle_start = machine_idle_seconds();
    const auto wall_start = clock_type::now();
    drops_start = socket_drops(own_fds);
    // The machine's share ends with the sending (the drain after it is mostly idle).
    std::this_thread::sleep_until(end);
    const double wall = std::chrono::duration<double>(clock_type::now() - wall_start).count();
    const double cpus = static_cast<double>(sysconf(_SC_NPROCESSORS_ONLN));
    machine_start = std::max(0.0, wall * cpus - (machine_idle_seconds() - idle_start));
  });
  for (unsigned t = 0; t < o.threads; ++t) {
    std::vector<client*> mine;
    for (std::size_t i = t; i < sessions.size(); i += o.threads) mine.push_back(sessions[i].get());
    workers.emplace_back(
        [&, t, mine] { relay_worker(o, mine, *peers[t], start, measure_from, end, stats[t]); });
  }
  for (auto& w : workers) w.join();
  cpu_mark.join();
  const double cpu = server_cpu_seconds(o.server_pid) - cpu_start;
  const double machine = machine_start;  // busy seconds from measure_from to end
  const std::uint64_t generator_drops = socket_drops(own_fds) - drops_start;
  relay_stats total;
  for (auto& s : stats) {
    total.sent += s.sent;
    total.received += s.received;
    total.rtt_us.insert(total.rtt_us.end(), s.rtt_us.begin(), s.rtt_us.end());
  }
  const double loss =
      total.sent == 0
          ? 0
          : 100.0 * static_cast<double>(total.sent - std::min(total.sent, total.received)) /
                static_cast<double>(total.sent);
  std::cout << "mode=relay sessions=" << o.sessions << " payload=" << o.payload
            << " offered_pps=" << static_cast<double>(total.sent) / o.duration
            << " delivered_pps=" << static_cast<double>(total.received) / o.duration
            << " loss_pct=" << loss << " generator_drops=" << generator_drops
            << " rtt_p50_us=" << percentile(total.rtt_us, 0.5)
            << " rtt_p99_us=" << percentile(total.rtt_us, 0.99)
            << " rtt_max_us=" << percentile(total.rtt_us, 1.0) << " server_cpu_s=" << cpu
            << " cpu_us_per_rt="
            << (total.received ? cpu * 1e6 / static_cast<double>(total.received) : 0)
            << " machine_cpu_s=" << machine << " machine_us_per_rt="
            << (total.received ? machine * 1e6 / static_cast<double>(total.received) : 0) << "\n";
  if (!o.direct) {
    for (auto& c : sessions) c->remove();
  }
  return 0;
}

// Warm-up, then the measured window (`measuring` set), then `stop` and join the workers.
// Returns the server's CPU seconds in the window.
double measure_window(const options& o, std::atomic<bool>& measuring, std::atomic<bool>& stop,
                      std::vector<std::thread>& workers) {
  std::this_thread::sleep_for(std::chrono::duration<double>(o.warmup));
  measuring = true;
  const double cpu0 = server_cpu_seconds(o.server_pid);
  std::this_thread::sleep_for(std::chrono::duration<double>(o.duration));
  measuring = false;
  const double cpu = server_cpu_seconds(o.server_pid) - cpu0;
  stop = true;
  for (auto& w : workers) w.join();
  return cpu;
}

int run_binding(const options& o) {
  std::vector<std::unique_ptr<client>> sockets;
  for (unsigned i = 0; i < o.sessions; ++i) sockets.push_back(std::make_unique<client>(o));
  std::atomic<std::uint64_t> answers{0};
  std::atomic<bool> measuring{false}, stop{false};
  std::vector<std::thread> workers;
  for (unsigned t = 0; t < o.threads; ++t) {
    workers.emplace_back([&, t] {
      std::array<std::uint8_t, 20> req{};
      req[1] = 0x01;
      const std::uint32_t cookie = htonl(0x2112A442);
      std::memcpy(req.data() + 4, &cookie, 4);
      std::array<std::uint8_t, 512> in{};
      std::uint64_t mine = 0;
      // Each socket keeps a window of requests in flight; a socket silent for 200 ms (its
      // requests or answers were dropped) gets a fresh window.
      constexpr int window = 8;
      std::vector<std::size_t> own;
      for (std::size_t i = t; i < sockets.size(); i += o.threads) own.push_back(i);
      std::vector<clock_type::time_point> last(own.size(), clock_type::time_point{});
      while (!stop) {
        const auto now = clock_type::now();
        for (std::size_t k = 0; k < own.size(); ++k) {
          const int fd = sockets[own[k]]->fd();
          if (now - last[k] > std::chrono::milliseconds(200)) {
            for (int w = 0; w < window; ++w) ::send(fd, req.data(), req.size(), MSG_DONTWAIT);
            last[k] = now;
          }
          while (::recv(fd, in.data(), in.size(), MSG_DONTWAIT) > 0) {
            if (measuring) ++mine;
            last[k] = now;
            ::send(fd, req.data(), req.size(), MSG_DONTWAIT);
          }
        }
      }
      answers += mine;
    });
  }
  const double cpu = measure_window(o, measuring, stop, workers);
  std::cout << "mode=binding answers_per_s=" << static_cast<double>(answers) / o.duration
            << " server_cpu_s=" << cpu
            << " answers_per_cpu_s=" << (cpu > 0 ? static_cast<double>(answers) / cpu : 0) << "\n";
  return 0;
}

// Each worker keeps `inflight` allocations under way, each on its own socket: a signed
// Allocate (the nonce learnt once and reused, as a real client keeps it), then Refresh 0 to
// delete it. Answers are awaited with epoll, so the server sees many clients at once.
int run_allocate(const options& o) {
  std::atomic<std::uint64_t> done{0}, failed{0}, mismatch{0}, reuse_refused{0};
  std::atomic<bool> measuring{false}, stop{false};
  std::vector<std::thread> workers;
  for (unsigned t = 0; t < o.sessions; ++t) {
    workers.emplace_back([&] {
      client learn(o, false);  // one exchange with the 401 to learn the nonce
      if (learn.allocate() != 0 || learn.remove() != 0) {
        std::cerr << "turn_load: allocate failed\n";
        stop = true;
        return;
      }
      struct slot {
        std::unique_ptr<client> c;
        p::transaction_id tid{};
        bool deleting = false;
        bool reused = false;  // this Allocate went out on the last allocation's socket
        int retries = 0;
        clock_type::time_point sent;
      };
      // After a confirmed delete the next allocation goes out on the same socket (a new
      // socket per allocation was 40 % of this generator's CPU: socket, connect, epoll_ctl,
      // close). A server that still holds the deleted five-tuple answers 437; from then on
      // this worker opens a fresh socket for every allocation, as before.
      bool reuse = o.reuse_sockets;
      const int ep = ::epoll_create1(0);
      std::vector<slot> slots(std::max(1u, o.inflight));
      // Recently used sockets stay open a while, so the kernel does not hand the next client
      // the five-tuple of an allocation the server may still hold.
      std::vector<std::unique_ptr<client>> recent(1024);
      std::size_t next_slot = 0;
      auto send_allocate = [](slot& s) {
        s.deleting = false;
        s.retries = 0;
        s.sent = clock_type::now();
        const auto tid = s.c->send_request(
            p::method::allocate, [](auto& b) { p::add_requested_transport(b, p::transport_udp); });
        if (tid) s.tid = *tid;
        return tid.has_value();
      };
      // `deleted`: the server confirmed the last allocation on this slot's socket gone.
      auto start = [&](std::size_t i, bool deleted = false) {
        slot& s = slots[i];
        if (s.c && deleted && reuse) {
          s.reused = true;
          if (send_allocate(s)) return;
        }
        s.reused = false;
        if (s.c) {
          epoll_ctl(ep, EPOLL_CTL_DEL, s.c->fd(), nullptr);
          recent[next_slot] = std::move(s.c);
          next_slot = (next_slot + 1) % recent.size();
        }
        for (;;) {
          s.c = std::make_unique<client>(o, false);
          s.c->seed(learn);
          if (send_allocate(s)) break;
          if (measuring) ++failed;
        }
        epoll_event e{};
        e.events = EPOLLIN;
        e.data.u64 = i;
        epoll_ctl(ep, EPOLL_CTL_ADD, s.c->fd(), &e);
      };
      for (std::size_t i = 0; i < slots.size(); ++i) start(i);
      std::array<epoll_event, 64> ready{};
      while (!stop) {
        const int n = epoll_wait(ep, ready.data(), static_cast<int>(ready.size()), 100);
        for (int r = 0; r < n; ++r) {
          const std::size_t i = ready[r].data.u64;
          slot& s = slots[i];
          const auto code = s.c->answer(s.tid);
          if (!code) continue;
          if ((*code == 401 || *code == 438) && s.retries < 2) {
            // A server that wants a nonce of this socket's own, or a stale one: sign again
            // with the nonce the answer carried (and let the next sockets start from it).
            ++s.retries;
            learn.seed(*s.c);
            const auto tid =
                s.deleting ? s.c->send_request(p::method::refresh,
                                               [](auto& b) { b.add_u32(p::attr::lifetime, 0); })
                           : s.c->send_request(p::method::allocate, [](auto& b) {
                               p::add_requested_transport(b, p::transport_udp);
                             });
            if (tid) {
              s.tid = *tid;
              s.sent = clock_type::now();
              continue;
            }
          }
          if (*code != 0) {
            if (*code == 437 && s.reused) {
              reuse = false;
              ++reuse_refused;
            } else if (measuring) {
              ++failed;
              if (*code == 437) ++mismatch;
            }
            start(i);
            continue;
          }
          if (!s.deleting) {
            const auto tid = s.c->send_request(p::method::refresh,
                                               [](auto& b) { b.add_u32(p::attr::lifetime, 0); });
            if (!tid) {
              if (measuring) ++failed;
              start(i);
              continue;
            }
            s.tid = *tid;
            s.deleting = true;
            s.sent = clock_type::now();
            continue;
          }
          if (measuring) ++done;
          start(i, true);
        }
        // Lost answers: give up on a slot after 3 s.
        const auto now = clock_type::now();
        for (std::size_t i = 0; i < slots.size(); ++i) {
          if (now - slots[i].sent > std::chrono::seconds(3)) {
            if (measuring) ++failed;
            start(i);
          }
        }
      }
      ::close(ep);
    });
  }
  const double cpu = measure_window(o, measuring, stop, workers);
  std::cout << "mode=allocate workers=" << o.sessions << " inflight=" << o.inflight
            << " allocations_per_s=" << static_cast<double>(done) / o.duration
            << " failed=" << failed << " failed_437=" << mismatch
            << " reuse_refused=" << reuse_refused << " server_cpu_s=" << cpu
            << " allocations_per_cpu_s=" << (cpu > 0 ? static_cast<double>(done) / cpu : 0) << "\n";
  return 0;
}

int run_idle(const options& o) {
  const long before = server_rss_bytes(o.server_pid);
  std::vector<std::unique_ptr<client>> held, spent;
  unsigned failed = 0;
  for (unsigned i = 0; i < o.sessions; ++i) {
    auto c = allocated_client(o, held.empty() ? nullptr : held.back().get(), spent);
    if (c) {
      held.push_back(std::move(c));
    } else {
      ++failed;
    }
  }
  std::this_thread::sleep_for(std::chrono::seconds(1));
  const long after = server_rss_bytes(o.server_pid);
  std::cout << "mode=idle allocations=" << held.size() << " failed=" << failed
            << " retried=" << spent.size() << " rss_before=" << before << " rss_after=" << after
            << " bytes_per_allocation="
            << (held.empty()
                    ? 0
                    : static_cast<double>(after - before) / static_cast<double>(held.size()))
            << std::endl;
  std::this_thread::sleep_for(std::chrono::duration<double>(o.hold));
  for (auto& c : held) c->remove();
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  options o;
  CLI::App app{"turn_load: TURN load generator (relay, binding, allocate, idle)"};
  app.add_option("--server", o.server, "server IPv4 address");
  app.add_option("--port", o.port, "server port");
  app.add_option("--user", o.user, "user name");
  app.add_option("--password", o.password, "password");
  app.add_option("--mode", o.mode, "relay | binding | allocate | idle")
      ->check(CLI::IsMember({"relay", "binding", "allocate", "idle"}));
  app.add_option("--sessions", o.sessions, "allocations / sockets / workers");
  app.add_option("--payload", o.payload, "ChannelData payload bytes (>= 16)")
      ->check(CLI::Range(16u, 1400u));
  app.add_option("--rate", o.rate, "round trips per second per session (0: flat out)");
  app.add_option("--duration", o.duration, "measured seconds");
  app.add_option("--warmup", o.warmup, "seconds before measuring");
  app.add_option("--server-pid", o.server_pid, "server process, for its CPU time and memory");
  app.add_option("--threads", o.threads, "sending threads")->check(CLI::Range(1u, 64u));
  app.add_option("--client-ip", o.client_ip, "source IPv4 address of the client sockets");
  app.add_option("--peer-ip", o.peer_ip, "relay: IPv4 address of the echo peers");
  app.add_option("--client-ips", o.client_ips,
                 "with --client-port: consecutive source addresses from --client-ip to use "
                 "in turn once one's ports run out")
      ->check(CLI::Range(1u, 256u));
  app.add_option("--client-port", o.client_port,
                 "with --client-ip: first client port (then one more per client)");
  app.add_option("--hold", o.hold, "idle: seconds to keep the allocations after reporting");
  app.add_flag("--direct", o.direct,
               "relay: no server; each session sends to its echo peer directly (the "
               "generator's own share of the machine)");
  app.add_flag("!--fresh-sockets", o.reuse_sockets,
               "allocate: a new socket for every allocation (default: reuse the socket "
               "of a deleted allocation while the server accepts it)");
  app.add_option("--inflight", o.inflight, "allocate: allocations under way per worker")
      ->check(CLI::Range(1u, 256u));
  CLI11_PARSE(app, argc, argv);
  try {
    if (o.mode == "relay") return run_relay(o);
    if (o.mode == "binding") return run_binding(o);
    if (o.mode == "allocate") return run_allocate(o);
    return run_idle(o);
  } catch (const std::exception& e) {
    std::cerr << "turn_load: " << e.what() << "\n";
    return 1;
  }
}
