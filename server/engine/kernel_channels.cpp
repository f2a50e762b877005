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

void kernel_channels::fold(allocation& a, engine_counters& counters) noexcept {
  if (io_ == nullptr || !a.kernel.slot) return;
  const allocation_traffic now = io_->traffic(*a.kernel.slot);
  const allocation_traffic& before = a.kernel.folded;
  const allocation_traffic d{
      now.received_packets - before.received_packets, now.received_bytes - before.received_bytes,
      now.sent_packets - before.sent_packets, now.sent_bytes - before.sent_bytes};
  a.kernel.folded = now;
  a.traffic.received_packets += d.received_packets;
  a.traffic.received_bytes += d.received_bytes;
  a.traffic.sent_packets += d.sent_packets;
  a.traffic.sent_bytes += d.sent_bytes;
  // Relayed traffic as if user space had carried it (UDP clients only), and once more in the
  // kernel's own counters.
  counters.relayed_to_peer_packets += d.received_packets;
  counters.relayed_to_peer_bytes += d.received_bytes;
  counters.relayed_to_client_packets += d.sent_packets;
  counters.relayed_to_client_bytes += d.sent_bytes;
  const auto udp = static_cast<std::size_t>(transport::udp);
  counters.relayed_packets_by[udp][0] += d.received_packets;
  counters.relayed_bytes_by[udp][0] += d.received_bytes;
  counters.relayed_packets_by[udp][1] += d.sent_packets;
  counters.relayed_bytes_by[udp][1] += d.sent_bytes;
  counters.kernel_to_peer_packets += d.received_packets;
  counters.kernel_to_client_packets += d.sent_packets;
}

void kernel_channels::drop(allocation& a, engine_counters& counters) noexcept {
  if (io_ == nullptr) return;
  for (const kernel_route& r : a.kernel.installed) io_->remove(r);
  installed_ -= a.kernel.installed.size();
  a.kernel.installed.clear();
  fold(a, counters);
  if (a.kernel.slot) {
    io_->give_slot(*a.kernel.slot);
    --slots_;
  }
  a.kernel = {};
}

}  // namespace turnpike::server::engine
