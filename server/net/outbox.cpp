// SPDX-License-Identifier: Apache-2.0
#include "server/net/outbox.hpp"

#include <sys/socket.h>

namespace turnpike::server::net {

bool outbox::send(int fd, const protocol::transport_address& to, protocol::byte_span bytes,
                  protocol::byte_span header) noexcept {
  if (depth_ > 0) {
    failures_ += batch_->push(fd, to, bytes, header);
    return true;
  }
  sockaddr_storage sa{};
  iovec iov[2] = {{const_cast<std::uint8_t*>(header.data()), header.size()},
                  {const_cast<std::uint8_t*>(bytes.data()), bytes.size()}};
  msghdr h{};
  h.msg_name = &sa;
  h.msg_namelen = to_sockaddr(to, sa);
  h.msg_iov = header.empty() ? iov + 1 : iov;
  h.msg_iovlen = header.empty() ? 1 : 2;
  if (::sendmsg(fd, &h, MSG_DONTWAIT) >= 0) return true;
  ++failures_;
  return false;
}

void outbox::send_connected(int fd, protocol::byte_span bytes) noexcept {
  const scope s(*this);
  failures_ += batch_->push_connected(fd, bytes);
}

void outbox::flush() noexcept {
  failures_ += batch_->flush();
}

}  // namespace turnpike::server::net
