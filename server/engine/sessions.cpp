// SPDX-License-Identifier: Apache-2.0
// The sessions API's side of the engine: listing allocations and ending them.
#include "server/engine/sessions.hpp"

#include "server/engine/engine.hpp"

namespace turnpike::server::engine {

namespace {

bool matches(const session_filter& f, const allocation& a) noexcept {
  if (f.id && a.id != *f.id) return false;
  if (f.username && a.username != *f.username) return false;
  if (f.client_ip &&
      (a.client.remote.family != f.client_ip->family || a.client.remote.ip != f.client_ip->ip)) {
    return false;
  }
  return true;
}

std::int64_t whole_seconds(clock::duration d) {
  return std::chrono::duration_cast<std::chrono::seconds>(d).count();
}

}  // namespace

std::vector<session_info> engine::sessions(const session_filter& filter, const instant& now) const {
  std::vector<session_info> out;
  for (const auto& [path, a] : allocations_) {
    if (!matches(filter, a)) continue;
    session_info s;
    s.id = a.id;
    s.username = a.username;
    s.client = a.client;
    for (const relay_endpoint& r : a.relays) s.relayed.push_back(r.relayed);
    s.tcp_relay = a.tcp;
    s.age_seconds = whole_seconds(now.mono - a.created);
    s.lifetime_left_seconds = std::max<std::int64_t>(0, whole_seconds(a.expiry - now.mono));
    s.traffic = a.traffic;
    s.permissions = a.permissions.size();
    s.channels = a.channels.size();
    out.push_back(std::move(s));
  }
  return out;
}

std::size_t engine::end_sessions(const session_filter& filter) noexcept {
  std::vector<five_tuple> ending;
  for (const auto& [path, a] : allocations_) {
    if (matches(filter, a)) ending.push_back(path);
  }
  for (const five_tuple& path : ending) {
    ++counters_.allocations_ended;
    remove_allocation(path);
  }
  return ending.size();
}

}  // namespace turnpike::server::engine
