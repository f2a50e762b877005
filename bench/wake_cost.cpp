// SPDX-License-Identifier: Apache-2.0
// wake_cost: the CPU a UDP echo server spends per datagram when the datagrams arrive paced,
// so it sleeps and wakes between them, for three ways to wait and do the I/O:
//   epoll   epoll_wait, then recvmmsg and sendmmsg (Turnpike's shards, less Asio);
//   ring+   io_uring: a multishot recvmsg with provided buffers, answers by sendmmsg;
//   ring    io_uring for both: the answers go into the ring and leave in the same
//           io_uring_enter that waits for the next datagrams (one system call per wake-up).
// The server is a child process (its CPU from CLOCK_PROCESS_CPUTIME_ID, every thread of it);
// the parent sends `--burst` datagrams at a time from 16 sockets at `--rate` per second in
// all and reads the echoes. Variants take turns within each round; medians are printed.
//
//   wake_cost [--rate 8000] [--burst 1] [--seconds 3] [--rounds 5] [--payload 160]
#include <liburing.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <array>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <iostream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace {

struct options {
  unsigned rate = 8000;
  unsigned burst = 1;
  unsigned seconds = 3;
  unsigned rounds = 5;
  unsigned payload = 160;
};

enum class variant { epoll, ring_recv, ring };
constexpr std::array<variant, 3> variants{variant::epoll, variant::ring_recv, variant::ring};
const char* name_of(variant v) {
  switch (v) {
    case variant::epoll:
      return "epoll_wait + recvmmsg + sendmmsg";
    case variant::ring_recv:
      return "io_uring recvmsg + sendmmsg";
    case variant::ring:
      return "io_uring recvmsg + sendmsg";
  }
  return "";
}

// What the server reports to the parent when told to stop.
struct report {
  double cpu_seconds = 0;  // from its first datagram to the stop datagram
  long echoed = 0;
  long wakes = 0;
};

double process_cpu() {
  timespec t{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_nsec) / 1e9;
}

bool is_stop(const void* p, std::size_t n) {
  return n == 4 && std::memcmp(p, "stop", 4) == 0;
}

[[noreturn]] void fail(const char* what, int err) {
  std::fprintf(stderr, "wake_cost: %s: %s\n", what, std::strerror(err));
  std::_Exit(1);
}

report serve_epoll(int fd) {
  const int ep = epoll_create1(0);
  epoll_event ev{};
  ev.events = EPOLLIN;
  if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) != 0) fail("epoll_ctl", errno);
  constexpr unsigned n = 32;
  static std::array<std::array<char, 2048>, n> bufs;
  std::array<mmsghdr, n> msgs{};
  std::array<iovec, n> iov{};
  std::array<sockaddr_storage, n> names{};
  report r;
  double start = -1;
  for (;;) {
    std::array<epoll_event, 8> ready{};
    if (epoll_wait(ep, ready.data(), static_cast<int>(ready.size()), -1) <= 0) continue;
    ++r.wakes;
    for (;;) {
      for (unsigned i = 0; i < n; ++i) {
        iov[i] = {bufs[i].data(), bufs[i].size()};
        msgs[i].msg_hdr = {};
        msgs[i].msg_hdr.msg_name = &names[i];
        msgs[i].msg_hdr.msg_namelen = sizeof names[i];
        msgs[i].msg_hdr.msg_iov = &iov[i];
        msgs[i].msg_hdr.msg_iovlen = 1;
      }
      const int got = recvmmsg(fd, msgs.data(), n, MSG_DONTWAIT, nullptr);
      if (got <= 0) break;
      if (start < 0) start = process_cpu();
      for (int i = 0; i < got; ++i) {
        if (is_stop(bufs[i].data(), msgs[i].msg_len)) {
          r.cpu_seconds = process_cpu() - start;
          return r;
        }
        iov[i].iov_len = msgs[i].msg_len;
      }
      sendmmsg(fd, msgs.data(), static_cast<unsigned>(got), MSG_DONTWAIT);
      r.echoed += got;
      if (static_cast<unsigned>(got) < n) break;
    }
  }
}

report serve_ring(int fd, bool sends_in_ring) {
  io_uring ring{};
  io_uring_params params{};
  params.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN;
  if (const int e = io_uring_queue_init_params(512, &ring, &params); e < 0) {
    fail("io_uring_queue_init_params", -e);
  }
  // Provided buffers the multishot receive fills, handed back once a datagram is handled.
  constexpr unsigned buffers = 256;
  constexpr unsigned buffer_size = 2048;
  void* ring_memory = nullptr;
  if (posix_memalign(&ring_memory, 4096, sizeof(io_uring_buf) * buffers) != 0) {
    fail("posix_memalign", ENOMEM);
  }
  auto* br = static_cast<io_uring_buf_ring*>(ring_memory);
  io_uring_buf_ring_init(br);
  io_uring_buf_reg reg{};
  reg.ring_addr = reinterpret_cast<unsigned long>(br);
  reg.ring_entries = buffers;
  reg.bgid = 0;
  if (const int e = io_uring_register_buf_ring(&ring, &reg, 0); e < 0) {
    fail("io_uring_register_buf_ring", -e);
  }
  static std::array<std::array<char, buffer_size>, buffers> pool;
  const int mask = io_uring_buf_ring_mask(buffers);
  for (unsigned i = 0; i < buffers; ++i) {
    io_uring_buf_ring_add(br, pool[i].data(), buffer_size, static_cast<unsigned short>(i), mask,
                          static_cast<int>(i));
  }
  io_uring_buf_ring_advance(br, buffers);
  msghdr layout{};
  layout.msg_namelen = sizeof(sockaddr_storage);
  constexpr std::uint64_t receive_tag = 1;
  constexpr std::uint64_t send_tag = 2;
  auto arm = [&] {
    io_uring_sqe* s = io_uring_get_sqe(&ring);
    io_uring_prep_recvmsg_multishot(s, fd, &layout, 0);
    s->flags |= IOSQE_BUFFER_SELECT;
    s->buf_group = 0;
    io_uring_sqe_set_data64(s, receive_tag);
  };
  arm();
  // Answers are copied out of the provided buffer (which goes back at once); a slot is
  // reused only after 1024 more answers, long after its send completed (UDP sends complete
  // within the io_uring_enter that submits them).
  constexpr unsigned slots = 1024;
  static std::array<std::array<char, buffer_size>, slots> out;
  static std::array<sockaddr_storage, slots> to;
  static std::array<iovec, slots> out_iov;
  static std::array<msghdr, slots> out_msg;
  static std::array<mmsghdr, 64> batch;
  unsigned next = 0;
  report r;
  double start = -1;
  for (;;) {
    io_uring_submit_and_wait(&ring, 1);
    ++r.wakes;
    io_uring_cqe* cqe = nullptr;
    unsigned head = 0;
    unsigned seen = 0;
    int returned = 0;
    unsigned batched = 0;
    bool rearm = false;
    io_uring_for_each_cqe(&ring, head, cqe) {
      ++seen;
      if (io_uring_cqe_get_data64(cqe) != receive_tag) continue;  // a send that failed
      if ((cqe->flags & IORING_CQE_F_MORE) == 0) rearm = true;
      if (cqe->res < 0 || (cqe->flags & IORING_CQE_F_BUFFER) == 0) continue;
      const unsigned id = cqe->flags >> IORING_CQE_BUFFER_SHIFT;
      if (auto* o = io_uring_recvmsg_validate(pool[id].data(), cqe->res, &layout)) {
        const void* payload = io_uring_recvmsg_payload(o, &layout);
        const std::size_t length = io_uring_recvmsg_payload_length(o, cqe->res, &layout);
        if (start < 0) start = process_cpu();
        if (is_stop(payload, length)) {
          r.cpu_seconds = process_cpu() - start;
          io_uring_queue_exit(&ring);
          return r;
        }
        const unsigned k = next++ % slots;
        std::memcpy(out[k].data(), payload, length);
        const auto name_length = std::min<std::size_t>(o->namelen, sizeof to[k]);
        std::memcpy(&to[k], io_uring_recvmsg_name(o), name_length);
        out_iov[k] = {out[k].data(), length};
        out_msg[k] = {};
        out_msg[k].msg_name = &to[k];
        out_msg[k].msg_namelen = static_cast<socklen_t>(name_length);
        out_msg[k].msg_iov = &out_iov[k];
        out_msg[k].msg_iovlen = 1;
        if (sends_in_ring) {
          io_uring_sqe* s = io_uring_get_sqe(&ring);
          io_uring_prep_sendmsg(s, fd, &out_msg[k], 0);
          s->flags |= IOSQE_CQE_SKIP_SUCCESS;
          io_uring_sqe_set_data64(s, send_tag);
        } else {
          batch[batched++].msg_hdr = out_msg[k];
          if (batched == batch.size()) {
            sendmmsg(fd, batch.data(), batched, MSG_DONTWAIT);
            batched = 0;
          }
        }
        ++r.echoed;
      }
      io_uring_buf_ring_add(br, pool[id].data(), buffer_size, static_cast<unsigned short>(id), mask,
                            returned++);
    }
    io_uring_cq_advance(&ring, seen);
    if (returned > 0) io_uring_buf_ring_advance(br, returned);
    if (batched > 0) sendmmsg(fd, batch.data(), batched, MSG_DONTWAIT);
    if (rearm) arm();
  }
}

struct measured {
  double server_ns = 0;     // server CPU per echo
  double generator_ns = 0;  // the parent's CPU per datagram sent
  long echoed = 0;
  long received = 0;
  long wakes = 0;
};

measured run(variant v, const options& o) {
  const int fd = socket(AF_INET, SOCK_DGRAM, 0);
  sockaddr_in at{};
  at.sin_family = AF_INET;
  at.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t at_len = sizeof at;
  if (fd < 0 || bind(fd, reinterpret_cast<sockaddr*>(&at), sizeof at) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&at), &at_len) != 0) {
    throw std::runtime_error(std::string("server socket: ") + std::strerror(errno));
  }
  std::array<int, 2> channel{};
  if (pipe(channel.data()) != 0) throw std::runtime_error("pipe");
  const pid_t pid = fork();
  if (pid < 0) throw std::runtime_error("fork");
  if (pid == 0) {
    const report r = v == variant::epoll ? serve_epoll(fd) : serve_ring(fd, v == variant::ring);
    const bool written = write(channel[1], &r, sizeof r) == static_cast<ssize_t>(sizeof r);
    std::_Exit(written ? 0 : 1);
  }
  close(fd);
  constexpr int sockets = 16;
  std::vector<int> clients;
  const int ep = epoll_create1(0);
  for (int i = 0; i < sockets; ++i) {
    const int c = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
    if (c < 0 || connect(c, reinterpret_cast<sockaddr*>(&at), sizeof at) != 0) {
      throw std::runtime_error("client socket");
    }
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = c;
    epoll_ctl(ep, EPOLL_CTL_ADD, c, &ev);
    clients.push_back(c);
  }
  std::atomic<bool> done{false};
  std::atomic<long> received{0};
  std::thread reader([&] {
    std::array<char, 2048> b{};
    while (!done) {
      std::array<epoll_event, 16> ready{};
      const int n = epoll_wait(ep, ready.data(), static_cast<int>(ready.size()), 50);
      for (int i = 0; i < n; ++i) {
        while (recv(ready[i].data.fd, b.data(), b.size(), 0) > 0) ++received;
      }
    }
  });
  const std::vector<char> payload(o.payload, 'x');
  const long total = static_cast<long>(o.rate) * o.seconds;
  const long step_ns = 1'000'000'000L / o.rate * o.burst;
  timespec t{};
  clock_gettime(CLOCK_MONOTONIC, &t);
  const double generator_start = process_cpu();
  for (long sent = 0; sent < total;) {
    t.tv_nsec += step_ns;
    while (t.tv_nsec >= 1'000'000'000L) {
      t.tv_nsec -= 1'000'000'000L;
      ++t.tv_sec;
    }
    clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &t, nullptr);
    for (unsigned b = 0; b < o.burst && sent < total; ++b, ++sent) {
      send(clients[static_cast<std::size_t>(sent % sockets)], payload.data(), payload.size(), 0);
    }
  }
  const double generator = process_cpu() - generator_start;
  usleep(200'000);
  send(clients[0], "stop", 4, 0);
  report r;
  const bool got = read(channel[0], &r, sizeof r) == static_cast<ssize_t>(sizeof r);
  waitpid(pid, nullptr, 0);
  done = true;
  reader.join();
  for (int c : clients) close(c);
  close(ep);
  close(channel[0]);
  close(channel[1]);
  if (!got) throw std::runtime_error("the server did not report");
  measured m;
  m.echoed = r.echoed;
  m.wakes = r.wakes;
  m.received = received;
  m.server_ns = r.cpu_seconds * 1e9 / static_cast<double>(std::max(1L, r.echoed));
  m.generator_ns = generator * 1e9 / static_cast<double>(total);
  return m;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"CPU per echoed datagram of an epoll and an io_uring UDP echo server, paced"};
  options o;
  app.add_option("--rate", o.rate, "datagrams per second in all")->check(CLI::Range(100, 1000000));
  app.add_option("--burst", o.burst, "datagrams sent together")->check(CLI::Range(1, 64));
  app.add_option("--seconds", o.seconds, "per variant and round")->check(CLI::Range(1, 60));
  app.add_option("--rounds", o.rounds)->check(CLI::Range(1, 50));
  app.add_option("--payload", o.payload, "bytes")->check(CLI::Range(8, 1400));
  CLI11_PARSE(app, argc, argv);
  std::array<std::vector<double>, variants.size()> server;
  std::array<std::vector<double>, variants.size()> per_wake;
  std::array<std::vector<double>, variants.size()> generator;
  try {
    for (unsigned round = 0; round < o.rounds; ++round) {
      for (std::size_t i = 0; i < variants.size(); ++i) {
        const measured m = run(variants[i], o);
        std::printf("round %u  %-34s echoed %ld (%ld back), %ld wake-ups, %.0f ns per echo\n",
                    round + 1, name_of(variants[i]), m.echoed, m.received, m.wakes, m.server_ns);
        server[i].push_back(m.server_ns);
        per_wake[i].push_back(static_cast<double>(m.echoed) / static_cast<double>(m.wakes));
        generator[i].push_back(m.generator_ns);
      }
    }
  } catch (const std::exception& e) {
    std::cerr << "wake_cost: " << e.what() << "\n";
    return 1;
  }
  std::printf("\nrate %u/s, burst %u, %u B; medians over %u rounds\n", o.rate, o.burst, o.payload,
              o.rounds);
  std::printf("%-34s %16s %10s %14s %18s\n", "", "server ns/echo", "relative", "echoes/wake-up",
              "generator ns/sent");
  const double base = median(server[0]);
  for (std::size_t i = 0; i < variants.size(); ++i) {
    std::printf("%-34s %16.0f %10.2f %14.1f %18.0f\n", name_of(variants[i]), median(server[i]),
                median(server[i]) / base, median(per_wake[i]), median(generator[i]));
  }
}
