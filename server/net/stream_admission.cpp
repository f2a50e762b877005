// SPDX-License-Identifier: Apache-2.0
#include "server/net/stream_admission.hpp"

namespace turnpike::server::net {
namespace {

protocol::transport_address ip_of(const protocol::transport_address& a) noexcept {
  protocol::transport_address ip = a;
  ip.port = 0;
  return ip;
}

}  // namespace

bool stream_admission::admit(const protocol::transport_address& remote) noexcept {
  unsigned& open = open_[ip_of(remote)];
  if (per_ip_ != 0 && open >= per_ip_) {
    if (open == 0) open_.erase(ip_of(remote));
    ++refused_;
    return false;
  }
  ++open;
  return true;
}

void stream_admission::release(const protocol::transport_address& remote) noexcept {
  if (const auto it = open_.find(ip_of(remote)); it != open_.end() && --it->second == 0) {
    open_.erase(it);
  }
}

unsigned stream_admission::open_from(const protocol::transport_address& remote) const noexcept {
  const auto it = open_.find(ip_of(remote));
  return it == open_.end() ? 0 : it->second;
}

}  // namespace turnpike::server::net
