// SPDX-License-Identifier: Apache-2.0
// recvmmsg/GRO receive and sendmmsg/GSO send batches.
#include "server/net/datagram_io.hpp"

#include <netinet/udp.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace turnpike::server::net {

socklen_t to_sockaddr(const protocol::transport_address& a, sockaddr_storage& out) noexcept {
  std::memset(&out, 0, sizeof out);
  if (a.family == protocol::address_family::ipv4) {
    auto* s = reinterpret_cast<sockaddr_in*>(&out);
    s->sin_family = AF_INET;
    s->sin_port = htons(a.port);
    std::memcpy(&s->sin_addr, a.ip.data(), 4);
    return sizeof(sockaddr_in);
  }
  auto* s = reinterpret_cast<sockaddr_in6*>(&out);
  s->sin6_family = AF_INET6;
  s->sin6_port = htons(a.port);
  std::memcpy(&s->sin6_addr, a.ip.data(), 16);
  return sizeof(sockaddr_in6);
}

protocol::transport_address from_sockaddr(const sockaddr_storage& s) noexcept {
  protocol::transport_address a;
  if (s.ss_family == AF_INET) {
    const auto* in = reinterpret_cast<const sockaddr_in*>(&s);
    a.family = protocol::address_family::ipv4;
    std::memcpy(a.ip.data(), &in->sin_addr, 4);
    a.port = ntohs(in->sin_port);
    return a;
  }
  const auto* in6 = reinterpret_cast<const sockaddr_in6*>(&s);
  a.port = ntohs(in6->sin6_port);
  if (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr)) {
    a.family = protocol::address_family::ipv4;
    std::memcpy(a.ip.data(), reinterpret_cast<const std::uint8_t*>(&in6->sin6_addr) + 12, 4);
  } else {
    a.family = protocol::address_family::ipv6;
    std::memcpy(a.ip.data(), &in6->sin6_addr, 16);
  }
  return a;
}

void tune_udp_socket(int fd, int receive_bytes, int send_bytes) noexcept {
  ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &receive_bytes, sizeof receive_bytes);
  if (send_bytes != 0) ::setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &send_bytes, sizeof send_bytes);
  const int on = 1;
  ::setsockopt(fd, SOL_UDP, UDP_GRO, &on, sizeof on);  // absent before Linux 5.0: ignored
}

receive_batch::receive_batch() : data_(static_cast<std::size_t>(slots) * slot_size) {}

int receive_batch::receive(int fd) noexcept {
  for (int i = 0; i < slots; ++i) {
    iov_[i] = {data_.data() + static_cast<std::size_t>(i) * slot_size, slot_size};
    msgs_[i] = {};
    msgs_[i].msg_hdr.msg_iov = &iov_[i];
    msgs_[i].msg_hdr.msg_iovlen = 1;
    msgs_[i].msg_hdr.msg_name = &from_[i];
    msgs_[i].msg_hdr.msg_namelen = sizeof from_[i];
    msgs_[i].msg_hdr.msg_control = control_[i].data();
    msgs_[i].msg_hdr.msg_controllen = control_[i].size();
  }
  // A pending socket error (an ICMP port unreachable for an earlier send) is reported once, in
  // place of the datagrams still queued: read again.
  for (int attempt = 0; attempt < 4; ++attempt) {
    const int n = ::recvmmsg(fd, msgs_.data(), slots, MSG_DONTWAIT, nullptr);
    if (n >= 0) {
      received_ += static_cast<std::uint64_t>(n);
      return n;
    }
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EBADF) return 0;
  }
  return 0;
}

bool receive_batch::read_control(int i, std::size_t& segment,
                                 protocol::transport_address& to) const noexcept {
  auto* h = const_cast<msghdr*>(&msgs_[i].msg_hdr);
  segment = 0;
  bool has_to = false;
  for (cmsghdr* c = CMSG_FIRSTHDR(h); c != nullptr; c = CMSG_NXTHDR(h, c)) {
    if (c->cmsg_level == SOL_UDP && c->cmsg_type == UDP_GRO) {
      int size = 0;
      std::memcpy(&size, CMSG_DATA(c), sizeof size);
      segment = size > 0 ? static_cast<std::size_t>(size) : 0;
    } else if ((c->cmsg_level == SOL_IP && c->cmsg_type == IP_ORIGDSTADDR) ||
               (c->cmsg_level == SOL_IPV6 && c->cmsg_type == IPV6_ORIGDSTADDR)) {
      sockaddr_storage ss{};
      std::memcpy(&ss, CMSG_DATA(c), std::min<std::size_t>(c->cmsg_len - CMSG_LEN(0), sizeof ss));
      to = from_sockaddr(ss);
      has_to = true;
    }
  }
  return has_to;
}

send_batch::send_batch() : arena_(max_bytes) {
  entries_.reserve(max_datagrams);
  order_.reserve(max_datagrams);
}

std::uint64_t send_batch::push(int fd, const protocol::transport_address& to,
                               protocol::byte_span bytes, protocol::byte_span header) {
  return queue(fd, &to, bytes, header);
}

std::uint64_t send_batch::push_connected(int fd, protocol::byte_span bytes) {
  return queue(fd, nullptr, bytes, {});
}

std::uint64_t send_batch::queue(int fd, const protocol::transport_address* to,
                                protocol::byte_span bytes, protocol::byte_span header) {
  auto used = [this] {
    return entries_.empty() ? std::size_t{0} : entries_.back().offset + entries_.back().size;
  };
  const std::size_t size = header.size() + bytes.size();
  std::uint64_t failed = 0;
  if (entries_.size() == max_datagrams || used() + size > max_bytes) failed = flush();
  const std::size_t offset = used();
  // Every field is set below (`to` only where to_len says so): no memset per datagram.
  // NOLINTNEXTLINE(cppcoreguidelines-pro-type-member-init)
  entry e;
  e.fd = fd;
  e.to_len = to != nullptr ? to_sockaddr(*to, e.to) : 0;
  e.offset = offset;
  e.size = size;
  e.coalesce = header.empty();
  if (!header.empty()) std::memcpy(arena_.data() + offset, header.data(), header.size());
  std::memcpy(arena_.data() + offset + header.size(), bytes.data(), bytes.size());
  entries_.push_back(e);
  return failed;
}

std::uint64_t send_batch::flush() noexcept {
  if (entries_.empty()) return 0;
  order_.resize(entries_.size());
  for (std::size_t i = 0; i < order_.size(); ++i) order_[i] = static_cast<std::uint16_t>(i);
  // Per socket, in the order queued (the index breaks ties: stable, and std::sort needs no
  // buffer where std::stable_sort would allocate one).
  std::sort(order_.begin(), order_.end(), [this](std::uint16_t a, std::uint16_t b) {
    return entries_[a].fd != entries_[b].fd ? entries_[a].fd < entries_[b].fd : a < b;
  });
  std::uint64_t failed = 0;
  for (std::size_t i = 0; i < order_.size();) {
    std::size_t j = i + 1;
    while (j < order_.size() && entries_[order_[j]].fd == entries_[order_[i]].fd) ++j;
    failed += send_run(entries_[order_[i]].fd, order_.data() + i, j - i);
    i = j;
  }
  entries_.clear();
  return failed;
}

std::uint64_t send_batch::send_run(int fd, const std::uint16_t* order, std::size_t count) noexcept {
  // Largest UDP payload one GSO message may carry, and the segment count Linux accepts.
  constexpr std::size_t gso_max_bytes = 65000;
  constexpr std::size_t gso_max_segments = 64;
  std::size_t messages = 0;
  for (std::size_t i = 0; i < count;) {
    const entry& e = entries_[order[i]];
    std::size_t k = 1;
    std::size_t total = e.size;
    while (gso_ && e.coalesce && i + k < count && k < gso_max_segments) {
      const entry& n = entries_[order[i + k]];
      if (n.size != e.size || e.size == 0 || total + n.size > gso_max_bytes ||
          n.to_len != e.to_len || std::memcmp(&n.to, &e.to, e.to_len) != 0) {
        break;
      }
      total += n.size;
      ++k;
    }
    for (std::size_t j = 0; j < k; ++j) {
      const entry& s = entries_[order[i + j]];
      iov_[i + j] = {arena_.data() + s.offset, s.size};
    }
    msghdr& h = msgs_[messages].msg_hdr;
    h = {};
    h.msg_name = e.to_len != 0 ? const_cast<sockaddr_storage*>(&e.to) : nullptr;
    h.msg_namelen = e.to_len;
    h.msg_iov = &iov_[i];
    h.msg_iovlen = k;
    if (k > 1) {
      h.msg_control = control_[messages].data();
      h.msg_controllen = CMSG_SPACE(sizeof(std::uint16_t));
      cmsghdr* c = CMSG_FIRSTHDR(&h);
      c->cmsg_level = SOL_UDP;
      c->cmsg_type = UDP_SEGMENT;
      c->cmsg_len = CMSG_LEN(sizeof(std::uint16_t));
      const auto segment = static_cast<std::uint16_t>(e.size);
      std::memcpy(CMSG_DATA(c), &segment, sizeof segment);
    }
    first_[messages] = static_cast<std::uint16_t>(i);
    count_[messages] = static_cast<std::uint16_t>(k);
    ++messages;
    i += k;
  }
  std::uint64_t failed = 0;
  bool retried = false;
  for (std::size_t sent = 0; sent < messages;) {
    const int r =
        ::sendmmsg(fd, msgs_.data() + sent, static_cast<unsigned>(messages - sent), MSG_DONTWAIT);
    ++send_calls_;
    if (r > 0) {
      for (std::size_t m = sent; m < sent + static_cast<std::size_t>(r); ++m) {
        datagrams_sent_ += count_[m];
      }
      sent += static_cast<std::size_t>(r);
      continue;
    }
    // msgs_[sent] failed. A GSO message the path cannot segment (EIO: no checksum offload;
    // EINVAL: a segment above the MTU) goes again datagram by datagram, so each gets the
    // answer it would have had alone.
    const int err = errno;
    // A connected socket reports an ICMP error for an earlier datagram (ECONNREFUSED, ...)
    // once, on the next call, in place of sending: that call goes again.
    if (entries_[order[first_[sent]]].to_len == 0 && !retried && err != EAGAIN &&
        err != EWOULDBLOCK && err != ENOBUFS) {
      retried = true;
      continue;
    }
    if (count_[sent] > 1 && (err == EIO || err == EINVAL)) {
      if (err == EIO) gso_ = false;
      failed += send_one_by_one(fd, order + first_[sent], count_[sent]);
    } else {
      failed += count_[sent];
    }
    ++sent;
  }
  return failed;
}

std::uint64_t send_batch::send_one_by_one(int fd, const std::uint16_t* order,
                                          std::size_t count) noexcept {
  std::uint64_t failed = 0;
  for (std::size_t i = 0; i < count; ++i) {
    const entry& e = entries_[order[i]];
    ++send_calls_;
    const auto* to = e.to_len != 0 ? reinterpret_cast<const sockaddr*>(&e.to) : nullptr;
    if (::sendto(fd, arena_.data() + e.offset, e.size, MSG_DONTWAIT, to, e.to_len) < 0) {
      ++failed;
    } else {
      ++datagrams_sent_;
    }
  }
  return failed;
}

}  // namespace turnpike::server::net
