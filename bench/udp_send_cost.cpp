// SPDX-License-Identifier: Apache-2.0
// udp_send_cost: the CPU a process spends per UDP datagram sent over loopback and received
// again, for the ways a relay can send: one sendto per datagram, sendmmsg on an unconnected
// socket (an address per datagram, what Turnpike's relay sockets do), sendmmsg on a socket
// connected to the destination (no address, the route kept on the socket), and one UDP GSO
// message per batch. One thread sends a batch, then reads the sink until it is empty, so
// nobody sleeps or wakes: what is left is the kernel's per-datagram send, delivery and
// receive path. Variants take turns within each round; medians over the rounds are printed.
//
//   udp_send_cost [--payload 160] [--batch 8] [--datagrams 200000] [--rounds 7] [--ipv6]
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <iostream>
#include <string>
#include <vector>

namespace {

#ifndef UDP_SEGMENT
constexpr int UDP_SEGMENT = 103;
#endif

struct options {
  unsigned payload = 160;
  unsigned batch = 8;
  unsigned datagrams = 200000;
  unsigned rounds = 7;
  bool ipv6 = false;
};

enum class variant { sendto_each, sendmmsg_unconnected, sendmmsg_connected, gso };
constexpr std::array variants{variant::sendto_each, variant::sendmmsg_unconnected,
                              variant::sendmmsg_connected, variant::gso};

const char* name(variant v) {
  switch (v) {
    case variant::sendto_each:
      return "sendto_each";
    case variant::sendmmsg_unconnected:
      return "sendmmsg_unconnected";
    case variant::sendmmsg_connected:
      return "sendmmsg_connected";
    case variant::gso:
      return "gso";
  }
  return "?";
}

double process_cpu_seconds() {
  timespec ts{};
  ::clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

[[noreturn]] void fail(const char* what) {
  std::cerr << "udp_send_cost: " << what << ": " << std::strerror(errno) << "\n";
  std::exit(1);
}

int udp_socket(bool ipv6) {
  const int fd = ::socket(ipv6 ? AF_INET6 : AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
  if (fd < 0) fail("socket");
  return fd;
}

// A loopback address with port 0 (bind) or the port of `fd` (getsockname).
socklen_t loopback(bool ipv6, sockaddr_storage& sa) {
  std::memset(&sa, 0, sizeof sa);
  if (ipv6) {
    auto& a = reinterpret_cast<sockaddr_in6&>(sa);
    a.sin6_family = AF_INET6;
    a.sin6_addr = in6addr_loopback;
    return sizeof a;
  }
  auto& a = reinterpret_cast<sockaddr_in&>(sa);
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return sizeof a;
}

struct sink {
  int fd;
  sockaddr_storage address{};
  socklen_t address_len;
  std::vector<std::uint8_t> buffers;
  std::vector<iovec> iov;
  std::vector<mmsghdr> msgs;

  explicit sink(bool ipv6, unsigned slots, unsigned slot_size) : fd(udp_socket(ipv6)) {
    address_len = loopback(ipv6, address);
    if (::bind(fd, reinterpret_cast<sockaddr*>(&address), address_len) != 0) fail("bind");
    if (::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &address_len) != 0) {
      fail("getsockname");
    }
    const int bytes = 4 << 20;
    ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &bytes, sizeof bytes);
    buffers.resize(static_cast<std::size_t>(slots) * slot_size);
    iov.resize(slots);
    msgs.resize(slots);
    for (unsigned i = 0; i < slots; ++i) {
      iov[i] = {buffers.data() + static_cast<std::size_t>(i) * slot_size, slot_size};
      msgs[i].msg_hdr.msg_iov = &iov[i];
      msgs[i].msg_hdr.msg_iovlen = 1;
    }
  }
  // Reads until nothing is queued; returns the datagrams read.
  std::uint64_t drain() {
    std::uint64_t got = 0;
    for (;;) {
      const int n = ::recvmmsg(fd, msgs.data(), static_cast<unsigned>(msgs.size()), 0, nullptr);
      if (n <= 0) return got;
      got += static_cast<unsigned>(n);
    }
  }
};

struct result {
  double cpu_ns_per_datagram;
  std::uint64_t lost;
};

result measure(variant v, const options& o, sink& s) {
  const int fd = udp_socket(o.ipv6);
  if (v == variant::sendmmsg_connected &&
      ::connect(fd, reinterpret_cast<sockaddr*>(&s.address), s.address_len) != 0) {
    fail("connect");
  }
  const bool addressed = v != variant::sendmmsg_connected;
  std::vector<std::uint8_t> payload(o.payload, 0x5a);
  std::vector<std::uint8_t> run(static_cast<std::size_t>(o.payload) * o.batch, 0x5a);
  std::vector<iovec> iov(o.batch, iovec{payload.data(), payload.size()});
  std::vector<mmsghdr> msgs(o.batch);
  for (auto& m : msgs) {
    m.msg_hdr.msg_iov = &iov[&m - msgs.data()];
    m.msg_hdr.msg_iovlen = 1;
    if (addressed) {
      m.msg_hdr.msg_name = &s.address;
      m.msg_hdr.msg_namelen = s.address_len;
    }
  }
  iovec run_iov{run.data(), run.size()};
  alignas(cmsghdr) std::array<std::uint8_t, CMSG_SPACE(sizeof(std::uint16_t))> control{};
  msghdr gso{};
  gso.msg_name = &s.address;
  gso.msg_namelen = s.address_len;
  gso.msg_iov = &run_iov;
  gso.msg_iovlen = 1;
  gso.msg_control = control.data();
  gso.msg_controllen = control.size();
  cmsghdr* c = CMSG_FIRSTHDR(&gso);
  c->cmsg_level = SOL_UDP;
  c->cmsg_type = UDP_SEGMENT;
  c->cmsg_len = CMSG_LEN(sizeof(std::uint16_t));
  const auto segment = static_cast<std::uint16_t>(o.payload);
  std::memcpy(CMSG_DATA(c), &segment, sizeof segment);

  s.drain();
  std::uint64_t sent = 0;
  std::uint64_t received = 0;
  const double start = process_cpu_seconds();
  while (sent < o.datagrams) {
    switch (v) {
      case variant::sendto_each:
        for (unsigned i = 0; i < o.batch; ++i) {
          if (::sendto(fd, payload.data(), payload.size(), 0,
                       reinterpret_cast<sockaddr*>(&s.address), s.address_len) < 0) {
            fail("sendto");
          }
        }
        break;
      case variant::sendmmsg_unconnected:
      case variant::sendmmsg_connected:
        if (::sendmmsg(fd, msgs.data(), o.batch, 0) != static_cast<int>(o.batch)) {
          fail("sendmmsg");
        }
        break;
      case variant::gso:
        if (::sendmsg(fd, &gso, 0) < 0) fail("sendmsg UDP_SEGMENT");
        break;
    }
    sent += o.batch;
    received += s.drain();
  }
  const double cpu = process_cpu_seconds() - start;
  ::close(fd);
  return {cpu * 1e9 / static_cast<double>(sent), sent - std::min(sent, received)};
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n % 2 == 1 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

}  // namespace

int main(int argc, char** argv) {
  options o;
  CLI::App app{"udp_send_cost: CPU per loopback UDP datagram for each way of sending"};
  app.add_option("--payload", o.payload, "datagram payload bytes")->check(CLI::Range(1u, 1400u));
  app.add_option("--batch", o.batch, "datagrams per send call (GSO: per message)")
      ->check(CLI::Range(1u, 64u));
  app.add_option("--datagrams", o.datagrams, "datagrams per variant per round");
  app.add_option("--rounds", o.rounds, "rounds (variants alternate within each)")
      ->check(CLI::Range(1u, 100u));
  app.add_flag("--ipv6", o.ipv6, "send over ::1 instead of 127.0.0.1");
  CLI11_PARSE(app, argc, argv);

  sink s(o.ipv6, 64, 65536);
  std::array<std::vector<double>, variants.size()> samples;
  std::array<std::uint64_t, variants.size()> lost{};
  for (unsigned round = 0; round < o.rounds; ++round) {
    for (std::size_t k = 0; k < variants.size(); ++k) {
      // A different variant goes first in each round.
      const std::size_t i = (k + round) % variants.size();
      const result r = measure(variants[i], o, s);
      samples[i].push_back(r.cpu_ns_per_datagram);
      lost[i] += r.lost;
    }
  }
  const double base = median(samples[1]);
  for (std::size_t i = 0; i < variants.size(); ++i) {
    const double m = median(samples[i]);
    std::cout << "variant=" << name(variants[i]) << " payload=" << o.payload << " batch=" << o.batch
              << " family=" << (o.ipv6 ? 6 : 4) << " cpu_ns_per_datagram=" << static_cast<long>(m)
              << " relative_to_sendmmsg_unconnected=" << m / base << " lost=" << lost[i] << "\n";
  }
  return 0;
}
