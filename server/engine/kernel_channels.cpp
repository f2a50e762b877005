// SPDX-License-Identifier: Apache-2.0
#include "server/engine/kernel_channels.hpp"

#include <algorithm>

#include "server/engine/allocation.hpp"
#include "server/engine/peer_policy.hpp"

namespace turnpike::server::engine {

namespace {

bool same_channel(const kernel_route& x, const kernel_route& y) noexcept {
  return x.channel == y.channel && x.peer == y.peer && x.relayed == y.relayed;
}

}  // namespace

void kernel_channels::sync(allocation& a, bool eligible, const peer_policy& policy) noexcept {
  if (io_ == nullptr) return;
  std::vector<kernel_route> wanted;
  if (eligible) {
    for (const channel_binding& c : a.channels) {
      const permission* p = a.find_permission(c.peer);
      const relay_endpoint* r = a.relay_for(c.peer.family);
      if (p == nullptr || r == nullptr || !policy.permits(c.peer)) continue;
      kernel_route route;
      route.client = a.client;
      route.relayed = r->bound;
      route.peer = c.peer;
      route.channel = c.number;
      route.expires = std::min({c.expiry, p->expiry, a.expiry});
      wanted.push_back(route);
    }
  }
  if (!wanted.empty() && !a.kernel.slot) {
    a.kernel.slot = io_->take_slot();
    if (a.kernel.slot) {
      ++slots_;
    } else {
      wanted.clear();  // no slot left: user space relays them
    }
  }
  // Gone or changed first, then new or changed.
  for (const kernel_route& had : a.kernel.installed) {
    const bool kept = std::any_of(wanted.begin(), wanted.end(),
                                  [&](const kernel_route& w) { return same_channel(w, had); });
    if (!kept) io_->remove(had);
  }
  std::vector<kernel_route> now_installed;
  for (kernel_route& w : wanted) {
    w.slot = *a.kernel.slot;
    const auto had = std::find_if(a.kernel.installed.begin(), a.kernel.installed.end(),
                                  [&](const kernel_route& h) { return same_channel(w, h); });
    const bool unchanged = had != a.kernel.installed.end() && *had == w;
    if (unchanged || io_->install(w)) {
      now_installed.push_back(w);
    } else if (had != a.kernel.installed.end()) {
      io_->remove(*had);  // could not update it: none rather than a stale expiry
    }
  }
  installed_ = installed_ - a.kernel.installed.size() + now_installed.size();
  a.kernel.installed = std::move(now_installed);
}

allocation_traffic kernel_channels::fold(allocation& a) noexcept {
  if (io_ == nullptr || !a.kernel.slot) return {};
  const allocation_traffic now = io_->traffic(*a.kernel.slot);
  const allocation_traffic& before = a.kernel.folded;
  const allocation_traffic delta{
      now.received_packets - before.received_packets, now.received_bytes - before.received_bytes,
      now.sent_packets - before.sent_packets, now.sent_bytes - before.sent_bytes};
  a.kernel.folded = now;
  a.traffic.received_packets += delta.received_packets;
  a.traffic.received_bytes += delta.received_bytes;
  a.traffic.sent_packets += delta.sent_packets;
  a.traffic.sent_bytes += delta.sent_bytes;
  return delta;
}

allocation_traffic kernel_channels::drop(allocation& a) noexcept {
  if (io_ == nullptr) return {};
  for (const kernel_route& r : a.kernel.installed) io_->remove(r);
  installed_ -= a.kernel.installed.size();
  a.kernel.installed.clear();
  const allocation_traffic last = fold(a);
  if (a.kernel.slot) {
    io_->give_slot(*a.kernel.slot);
    --slots_;
  }
  a.kernel = {};
  return last;
}

}  // namespace turnpike::server::engine
