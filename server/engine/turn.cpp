// SPDX-License-Identifier: Apache-2.0
// TURN over UDP relays (RFC 8656): Allocate (section 7.2), Refresh (7.3), CreatePermission
// (9.2), Send and Data indications (10), ChannelBind (11.2), ChannelData (12), lifetimes and
// the engine's single timer. Handlers follow the RFC's numbered steps.
#include <spdlog/spdlog.h>

#include "protocol/attr_address.hpp"
#include "protocol/attr_error.hpp"
#include "protocol/attr_turn.hpp"
#include "protocol/builder.hpp"
#include "protocol/channel_data.hpp"
#include "server/engine/engine.hpp"
#include "server/engine/printable.hpp"
#include "server/engine/request_auth.hpp"

namespace turnpike::server::engine {

namespace p = turnpike::protocol;

namespace {

std::chrono::seconds clamp_lifetime(const turn_settings& t, std::optional<std::uint32_t> asked) {
  // RFC 8656 section 7.2 step 6 and 7.3: the default when absent or shorter, at most the max.
  std::chrono::seconds life = t.default_lifetime;
  if (asked && std::chrono::seconds(*asked) > life) life = std::chrono::seconds(*asked);
  return std::min(life, t.max_lifetime);
}

std::optional<std::uint32_t> lifetime_of(const p::message_view& m) {
  const auto a = m.find(p::attr::lifetime);
  if (!a) return std::nullopt;
  auto v = p::decode_u32(a->value);
  if (!v) return std::nullopt;
  return *v;
}

}  // namespace

p::transport_address engine::advertised(const p::transport_address& relay) const noexcept {
  for (const auto& [bound, shown] : settings_.turn->external_ips) {
    if (bound.family == relay.family && bound.ip == relay.ip) {
      p::transport_address a = shown;
      a.port = relay.port;
      return a;
    }
  }
  return relay;
}

void engine::schedule(allocation& a, clock::time_point when) noexcept {
  if (when >= a.scheduled) return;
  a.scheduled = when;
  deadlines_.emplace(when, a.relays.front().id);
}

clock::time_point engine::next_deadline() const noexcept {
  const auto queued = deadlines_.empty() ? clock::time_point::max() : deadlines_.top().first;
  return std::min(queued, kernel_.next_fold());
}

void engine::on_timer(const instant& now) noexcept {
  if (kernel_.next_fold() <= now.mono) {
    for (auto& [path, a] : allocations_) kernel_.fold(a, counters_);
    kernel_.folded(now.mono);
  }
  while (!deadlines_.empty() && deadlines_.top().first <= now.mono) {
    const relay_id id = deadlines_.top().second;
    deadlines_.pop();
    const auto key = by_relay_.find(id);
    if (key == by_relay_.end()) continue;  // already gone
    allocation& a = allocations_.at(key->second);
    if (a.scheduled > now.mono) continue;  // a stale entry; a later one is queued
    a.scheduled = clock::time_point::max();
    if (a.expiry <= now.mono) {
      ++counters_.allocations_expired;
      remove_allocation(key->second);
      continue;
    }
    schedule(a, a.expire(now.mono));
    sync_kernel(a);
  }
}

bool engine::kernel_eligible(const allocation& a) const noexcept {
  // The kernel does not meter bandwidth: allocations under max-bps or bps-capacity stay in
  // user space, as do stream and DTLS clients and RFC 6062 relays.
  const turn_settings& t = *settings_.turn;
  return kernel_.enabled() && a.client.proto == transport::udp && !a.tcp && t.max_bps == 0 &&
         t.capacity_bps == 0;
}

void engine::sync_kernel(allocation& a) noexcept {
  if (kernel_.enabled()) kernel_.sync(a, kernel_eligible(a), *policy_);
}

void engine::remove_allocation(const five_tuple& key) noexcept {
  const auto it = allocations_.find(key);
  if (it == allocations_.end()) return;
  allocation& a = it->second;
  for (const relay_endpoint& r : a.relays) {
    if (relays_ != nullptr) relays_->close_relay(r.id);
    by_relay_.erase(r.id);
  }
  kernel_.drop(a, counters_);
  if (a.holds_quota) stores_->release_quota(a.lease, a.username, settings_.turn->realm);
  if (settings_.turn->observer != nullptr) {
    allocation_event e;
    e.what = allocation_event::kind::deleted;
    e.id = a.id;
    e.user = a.username;
    e.realm = settings_.turn->realm;
    e.traffic = a.traffic;
    settings_.turn->observer->on_allocation(e);
  }
  for (const pending_connect& c : a.connects) connecting_.erase(c.connection_id);
  allocations_.erase(it);
}

void engine::on_stream_closed(const five_tuple& path) noexcept {
  if (allocations_.contains(path)) ++counters_.allocations_deleted;
  remove_allocation(path);
  pending_allocates_.erase(path);  // a quota answer still on its way is given back on arrival
}

void engine::close_all() noexcept {
  while (!allocations_.empty()) remove_allocation(allocations_.begin()->first);
}

namespace {

// Token bucket holding at most one second of traffic at `bps` bytes per second.
bool take_tokens(double& tokens, clock::time_point& refilled, std::uint64_t bps, std::size_t bytes,
                 clock::time_point now) noexcept {
  const double elapsed = std::chrono::duration<double>(now - refilled).count();
  refilled = now;
  tokens = std::min(static_cast<double>(bps), tokens + elapsed * static_cast<double>(bps));
  if (tokens < static_cast<double>(bytes)) return false;
  tokens -= static_cast<double>(bytes);
  return true;
}

}  // namespace

bool engine::spend(allocation& a, std::size_t bytes, const instant& now) noexcept {
  const turn_settings& t = *settings_.turn;
  if ((t.max_bps != 0 && !take_tokens(a.tokens, a.refilled, t.max_bps, bytes, now.mono)) ||
      (t.capacity_bps != 0 &&
       !take_tokens(capacity_tokens_, capacity_refilled_, t.capacity_bps, bytes, now.mono))) {
    ++counters_.dropped_bandwidth;
    return false;
  }
  return true;
}

void engine::on_turn_request(const five_tuple& path, const p::message_view& req,
                             const instant& now) noexcept {
  if (req.method_code() == static_cast<std::uint16_t>(p::method::connection_bind)) {
    on_connection_bind(path, req, now);  // a data connection: checked against its allocation
    return;
  }
  const auto it = allocations_.find(path);
  allocation* existing = it == allocations_.end() ? nullptr : &it->second;
  if (!settings_.turn->long_term_credentials) {
    dispatch_authenticated(path, req, request_auth{}, now);  // no-auth
    return;
  }
  authenticate(path, req, now, existing);
}

void engine::dispatch_authenticated(const five_tuple& path, const p::message_view& req,
                                    const request_auth& auth, const instant& now) noexcept {
  if (auth.authenticated) challenges_->prove(path.remote, now.unix_seconds);
  const auto m = static_cast<p::method>(req.method_code());
  if (m == p::method::allocate) {
    on_allocate(path, req, auth, now);
    return;
  }
  if (m != p::method::refresh && m != p::method::create_permission &&
      m != p::method::channel_bind && m != p::method::connect) {
    send_error(path, req, p::error::bad_request, {}, &auth);
    return;
  }
  const auto it = allocations_.find(path);
  if (it == allocations_.end()) {
    send_error(path, req, p::error::allocation_mismatch, {}, &auth);  // 437
    return;
  }
  switch (m) {
    case p::method::refresh:
      on_refresh(it->second, req, auth, now);
      break;
    case p::method::create_permission:
      on_create_permission(it->second, req, auth, now);
      break;
    case p::method::connect:
      on_connect(it->second, req, auth, now);
      break;
    default:
      on_channel_bind(it->second, req, auth, now);
      break;
  }
}

void engine::send_allocate_success(allocation& a, const p::message_view& req,
                                   const request_auth& auth) noexcept {
  p::message_builder b(*out_, p::method::allocate, p::msg_class::success_response, req.tid_bytes());
  for (const relay_endpoint& r : a.relays) {
    p::add_xor_address(b, p::attr::xor_relayed_address, r.relayed);
  }
  b.add_u32(p::attr::lifetime,
            static_cast<std::uint32_t>(clamp_lifetime(*settings_.turn, lifetime_of(req)).count()));
  if (a.reserved) b.add(p::attr::reservation_token, *a.reserved);
  p::add_xor_address(b, p::attr::xor_mapped_address, a.client.remote);
  if (a.additional_error != 0) {
    p::add_address_error_code(b, p::address_family::ipv6, a.additional_error,
                              reason(a.additional_error));
  }
  ++counters_.success_responses;
  finish_and_send(a.client, b, req, &auth);
}

std::optional<p::transport_address> engine::redirect_for(const five_tuple& path) noexcept {
  if (draining_ && alternate_) return alternate_;
  const auto index = static_cast<std::size_t>(path.proto);
  const auto& list = settings_.turn->alternate_servers[index];
  // The address the client reached is in the list: it is a redirect target itself, and
  // sending the client on could send it round in a circle (coturn behaves the same).
  for (const auto& a : list) {
    if (a == path.local) return std::nullopt;
  }
  std::size_t& next = next_alternate_[index];
  for (std::size_t i = 0; i < list.size(); ++i) {
    const auto& a = list[next++ % list.size()];
    if (a.family == path.local.family) return a;
  }
  return std::nullopt;
}

void engine::on_allocate(const five_tuple& path, const p::message_view& req,
                         const request_auth& auth, const instant& now) noexcept {
  const turn_settings& t = *settings_.turn;
  // Step 2: the five-tuple already has an allocation. A retransmission of the Allocate that
  // made it gets the same answer; anything else is 437.
  if (const auto it = allocations_.find(path); it != allocations_.end()) {
    if (it->second.allocate_tid == req.tid()) {
      send_allocate_success(it->second, req, auth);
    } else {
      send_error(path, req, p::error::allocation_mismatch, {}, &auth);
    }
    return;
  }
  // An Allocate from this five-tuple is waiting for its quota: the retransmission is dropped
  // (the client retransmits again and meets the allocation, or the refusal).
  if (pending_allocates_.contains(path)) {
    ++counters_.dropped_unanswered;
    return;
  }
  // Redirected (alternate-server) or draining: no new allocation here (RFC 8489 section 10:
  // 300 Try Alternate names another server; draining without one, 508 Insufficient
  // Capacity). The answer is signed: the client has authenticated, and can trust it.
  if (const auto to = redirect_for(path)) {
    p::message_builder b(*out_, req.method_code(), p::msg_class::error_response, req.tid_bytes());
    p::add_error_code(b, p::error::try_alternate, reason(p::error::try_alternate));
    p::add_address(b, p::attr::alternate_server, *to);
    ++counters_.error_responses;
    finish_and_send(path, b, req, &auth);
    return;
  }
  if (draining_) {
    send_error(path, req, p::error::insufficient_capacity, {}, &auth);
    return;
  }
  // Step 3: REQUESTED-TRANSPORT.
  const auto transport_attr = req.find(p::attr::requested_transport);
  if (!transport_attr) {
    send_error(path, req, p::error::bad_request, {}, &auth);
    return;
  }
  const auto transport = p::decode_requested_transport(transport_attr->value);
  if (!transport) {
    send_error(path, req, p::error::bad_request, {}, &auth);
    return;
  }
  // RFC 6062 section 5.1: TCP relays only for clients on TCP or TLS.
  const bool tcp = *transport == p::transport_tcp && t.tcp_relay;
  if ((*transport != p::transport_udp || !t.udp_relay) && !tcp) {
    send_error(path, req, p::error::unsupported_transport_protocol, {}, &auth);
    return;
  }
  if (tcp && !is_stream(path.proto)) {
    send_error(path, req, p::error::bad_request, {}, &auth);
    return;
  }
  relay_request rr;
  rr.tcp = tcp;
  rr.family = t.default_family.value_or(path.remote.family);
  // Step 4: DONT-FRAGMENT is honoured by setting DF on the relay socket.
  rr.dont_fragment = req.find(p::attr::dont_fragment).has_value();
  // Steps 5 and 6: RESERVATION-TOKEN excludes EVEN-PORT and REQUESTED-ADDRESS-FAMILY.
  const auto token_attr = req.find(p::attr::reservation_token);
  const auto even_attr = req.find(p::attr::even_port);
  const auto family_attr = req.find(p::attr::requested_address_family);
  auto additional_attr = req.find(p::attr::additional_address_family);
  if (!additional_attr) additional_attr = req.find(p::attr::additional_address_family_draft);
  if (token_attr && (even_attr || family_attr)) {
    send_error(path, req, p::error::bad_request, {}, &auth);
    return;
  }
  if (family_attr && additional_attr) {
    send_error(path, req, p::error::bad_request, {}, &auth);
    return;
  }
  if (token_attr) {
    auto token = p::decode_reservation_token(token_attr->value);
    if (!token) {
      send_error(path, req, p::error::bad_request, {}, &auth);
      return;
    }
    rr.token = *token;
  }
  if (even_attr) {
    auto r = p::decode_even_port(even_attr->value);
    if (!r) {
      send_error(path, req, p::error::bad_request, {}, &auth);
      return;
    }
    rr.even_port = true;
    rr.reserve_next = *r;
  }
  // ADDITIONAL-ADDRESS-FAMILY (dual allocation, RFC 8656 section 7.2) must name IPv6; the
  // IPv4 relay comes first and an IPv6 one is added when possible.
  const bool dual = additional_attr.has_value();
  if (dual) {
    auto f = p::decode_address_family(additional_attr->value);
    if (!f || *f != p::address_family::ipv6) {
      send_error(path, req, p::error::bad_request, {}, &auth);
      return;
    }
  }
  if (family_attr) {
    auto f = p::decode_address_family(family_attr->value);
    if (!f) {
      send_error(path, req, p::error::address_family_not_supported, {}, &auth);
      return;
    }
    rr.family = *f;
  }
  if (!t.quota) {
    finish_allocate(path, req, auth, rr, dual, 0, now);
    return;
  }
  // Quotas (486): the answer comes back through on_quota_answer, maybe after a Redis round
  // trip. The request is copied; the allocation is made when the answer arrives, unless the
  // client's stream closed meanwhile.
  const std::uint64_t lease = next_lease_++;
  pending_allocates_[path] = lease;
  quota_wait w;
  w.path = path;
  w.request.assign(req.bytes().begin(), req.bytes().end());
  w.user = std::string(auth.username);
  w.authenticated = auth.authenticated;
  w.key = auth.key;
  w.key_is_sha256 = auth.key_is_sha256;
  w.mi256 = auth.mi256;
  w.relays = rr;
  w.dual = dual;
  const auto& waiting = quota_waits_.insert_or_assign(lease, std::move(w)).first->second;
  stores_->acquire_quota(lease, waiting.user, t.realm);
}

void engine::on_quota_answer(std::uint64_t lease, auth::quota_verdict verdict,
                             const instant& now) noexcept {
  const auto it = quota_waits_.find(lease);
  if (it == quota_waits_.end()) return;
  const quota_wait wait = std::move(it->second);
  quota_waits_.erase(it);
  const auto pending = pending_allocates_.find(wait.path);
  const bool wanted = pending != pending_allocates_.end() && pending->second == lease;
  if (wanted) pending_allocates_.erase(pending);
  const auto m = p::message_view::parse(wait.request);
  if (!wanted || !m) {
    if (verdict == auth::quota_verdict::granted) {
      stores_->release_quota(lease, wait.user, settings_.turn->realm);
    }
    return;
  }
  request_auth signed_by;
  signed_by.authenticated = wait.authenticated;
  signed_by.key = wait.key;
  signed_by.key_is_sha256 = wait.key_is_sha256;
  signed_by.mi256 = wait.mi256;
  signed_by.username = wait.user;
  if (verdict != auth::quota_verdict::granted) {
    send_error(wait.path, *m,
               verdict == auth::quota_verdict::refused ? p::error::allocation_quota_reached
                                                       : p::error::server_error,
               {}, &signed_by);
    return;
  }
  finish_allocate(wait.path, *m, signed_by, wait.relays, wait.dual, lease, now);
}

void engine::finish_allocate(const five_tuple& path, const p::message_view& req,
                             const request_auth& auth, const relay_request& rr, bool dual,
                             std::uint64_t lease, const instant& now) noexcept {
  const turn_settings& t = *settings_.turn;
  const std::string username(auth.username);
  relay_error why{};
  relay_request first = rr;
  first.client = path;
  const auto opened = relays_->open_relay(first, why);
  if (!opened) {
    if (t.quota) stores_->release_quota(lease, username, t.realm);
    const int code = why == relay_error::no_such_family ? p::error::address_family_not_supported
                                                        : p::error::insufficient_capacity;
    send_error(path, req, code, {}, &auth);
    return;
  }
  allocation& a = allocations_[path];
  a.client = path;
  a.relays.push_back({opened->id, advertised(opened->local), opened->local});
  if (dual) {
    relay_request second;
    second.family = p::address_family::ipv6;
    second.dont_fragment = rr.dont_fragment;
    relay_error why6{};
    if (const auto v6 = relays_->open_relay(second, why6)) {
      a.relays.push_back({v6->id, advertised(v6->local), v6->local});
    } else {
      a.additional_error = why6 == relay_error::no_such_family
                               ? p::error::address_family_not_supported
                               : p::error::insufficient_capacity;
    }
  }
  a.username = username;
  a.key = auth.key;
  a.key_is_sha256 = auth.key_is_sha256;
  a.allocate_tid = req.tid();
  a.reserved = opened->reserved;
  a.holds_quota = t.quota;
  a.lease = lease;
  a.id = lease != 0 ? lease : next_lease_++;
  a.tcp = rr.tcp;
  a.created = now.mono;
  a.expiry = now.mono + clamp_lifetime(t, lifetime_of(req));
  a.tokens = static_cast<double>(t.max_bps);
  a.refilled = now.mono;
  for (const relay_endpoint& r : a.relays) by_relay_[r.id] = path;
  schedule(a, a.expiry);
  ++counters_.allocations_created;
  if (t.observer != nullptr) {
    allocation_event e;
    e.id = a.id;
    e.user = a.username;
    e.realm = t.realm;
    e.lifetime = static_cast<std::uint32_t>(
        std::chrono::duration_cast<std::chrono::seconds>(a.expiry - now.mono).count());
    t.observer->on_allocation(e);
  }
  spdlog::debug("allocation for {} user '{}' relayed at {}{}", path.remote.to_string(),
                printable(a.username), a.relays.front().relayed.to_string(),
                a.relays.size() > 1 ? " and " + a.relays.back().relayed.to_string() : "");
  send_allocate_success(a, req, auth);
}

void engine::on_refresh(allocation& a, const p::message_view& req, const request_auth& auth,
                        const instant& now) noexcept {
  const turn_settings& t = *settings_.turn;
  // RFC 8656 section 7.3: REQUESTED-ADDRESS-FAMILY names one of the allocation's families;
  // in a dual allocation, a zero lifetime then deletes that family's relay only.
  const auto asked = lifetime_of(req);
  p::message_builder b(*out_, p::method::refresh, p::msg_class::success_response, req.tid_bytes());
  if (const auto f = req.find(p::attr::requested_address_family)) {
    auto fam = p::decode_address_family(f->value);
    const relay_endpoint* r = fam ? a.relay_for(*fam) : nullptr;
    if (r == nullptr) {
      send_error(a.client, req, p::error::peer_address_family_mismatch, {}, &auth);
      return;
    }
    if (asked && *asked == 0 && a.relays.size() > 1) {
      const relay_id gone = r->id;
      relays_->close_relay(gone);
      by_relay_.erase(gone);
      std::erase_if(a.relays, [gone](const relay_endpoint& e) { return e.id == gone; });
      a.scheduled = clock::time_point::max();  // re-queue under the remaining relay's id
      schedule(a, a.expire(now.mono));
      sync_kernel(a);
      b.add_u32(p::attr::lifetime, 0);
      ++counters_.success_responses;
      finish_and_send(a.client, b, req, &auth);
      return;
    }
  }
  if (asked && *asked == 0) {
    b.add_u32(p::attr::lifetime, 0);
    ++counters_.success_responses;
    const five_tuple client = a.client;
    // Gone (relays closed, quota given back) before the answer leaves: a client that acts on
    // the answer, on this shard or another, finds the allocation's resources free.
    ++counters_.allocations_deleted;
    remove_allocation(client);  // `a` is gone after this
    finish_and_send(client, b, req, &auth);
    return;
  }
  const auto life = clamp_lifetime(t, asked);
  a.expiry = now.mono + life;
  sync_kernel(a);
  b.add_u32(p::attr::lifetime, static_cast<std::uint32_t>(life.count()));
  ++counters_.success_responses;
  finish_and_send(a.client, b, req, &auth);
  if (t.observer != nullptr) {
    kernel_.fold(a, counters_);
    allocation_event e;
    e.what = allocation_event::kind::refreshed;
    e.id = a.id;
    e.user = a.username;
    e.realm = t.realm;
    e.lifetime = static_cast<std::uint32_t>(life.count());
    e.traffic = {a.traffic.received_packets - a.reported.received_packets,
                 a.traffic.received_bytes - a.reported.received_bytes,
                 a.traffic.sent_packets - a.reported.sent_packets,
                 a.traffic.sent_bytes - a.reported.sent_bytes};
    a.reported = a.traffic;
    t.observer->on_allocation(e);
  }
}

std::optional<p::transport_address> engine::checked_peer(const allocation& a,
                                                         const p::message_view& req,
                                                         p::byte_span value, bool with_port,
                                                         const request_auth& auth) noexcept {
  // A peer the allocation may reach: decodable (400), of a family it relays (443), allowed
  // by the policy (403). Answers the error itself.
  const auto peer = p::decode_xor_address(value, req.tid_bytes());
  if (!peer) {
    send_error(a.client, req, p::error::bad_request, {}, &auth);
    return std::nullopt;
  }
  const auto canon = peer_policy::canonical(*peer);
  if (a.relay_for(canon.family) == nullptr) {
    send_error(a.client, req, p::error::peer_address_family_mismatch, {}, &auth);
    return std::nullopt;
  }
  if (!(with_port ? policy_->permits(canon) : policy_->permits_ip(canon))) {
    ++counters_.peer_refused;
    send_error(a.client, req, p::error::forbidden, {}, &auth);
    return std::nullopt;
  }
  return canon;
}

void engine::on_create_permission(allocation& a, const p::message_view& req,
                                  const request_auth& auth, const instant& now) noexcept {
  const turn_settings& t = *settings_.turn;
  // RFC 8656 section 9.2: at least one XOR-PEER-ADDRESS, all of the relay's family, all
  // permitted; otherwise nothing is installed.
  std::size_t peers = 0;
  for (const p::attribute& attr : req.counted_attributes()) {
    if (attr.type != p::attr::xor_peer_address) continue;
    if (!checked_peer(a, req, attr.value, false, auth)) return;
    ++peers;
  }
  if (peers == 0) {
    send_error(a.client, req, p::error::bad_request, {}, &auth);
    return;
  }
  // All or nothing: a request that would pass the per-allocation cap installs none.
  std::size_t added = 0;
  for (const p::attribute& attr : req.counted_attributes()) {
    if (attr.type != p::attr::xor_peer_address) continue;
    const auto peer = peer_policy::canonical(*p::decode_xor_address(attr.value, req.tid_bytes()));
    if (a.find_permission(peer) == nullptr) ++added;  // a repeated peer counts twice: harmless
  }
  if (a.permissions.size() + added > t.max_permissions) {
    send_error(a.client, req, p::error::insufficient_capacity, {}, &auth);
    return;
  }
  const auto expiry = now.mono + t.permission_lifetime;
  for (const p::attribute& attr : req.counted_attributes()) {
    if (attr.type != p::attr::xor_peer_address) continue;
    const auto peer = peer_policy::canonical(*p::decode_xor_address(attr.value, req.tid_bytes()));
    if (permission* existing = a.find_permission(peer)) {
      existing->expiry = expiry;
    } else {
      a.permissions.push_back({peer, expiry});
    }
  }
  schedule(a, expiry);
  sync_kernel(a);
  p::message_builder b(*out_, p::method::create_permission, p::msg_class::success_response,
                       req.tid_bytes());
  ++counters_.success_responses;
  finish_and_send(a.client, b, req, &auth);
}

void engine::on_channel_bind(allocation& a, const p::message_view& req, const request_auth& auth,
                             const instant& now) noexcept {
  const turn_settings& t = *settings_.turn;
  // RFC 8656 section 11.2.
  const auto number_attr = req.find(p::attr::channel_number);
  const auto peer_attr = req.find(p::attr::xor_peer_address);
  if (!number_attr || !peer_attr) {
    send_error(a.client, req, p::error::bad_request, {}, &auth);
    return;
  }
  const auto number = p::decode_channel_number(number_attr->value);
  if (!number || *number < p::channel_min || *number > t.channel_max) {
    send_error(a.client, req, p::error::bad_request, {}, &auth);
    return;
  }
  const auto checked = checked_peer(a, req, peer_attr->value, true, auth);
  if (!checked) return;
  const p::transport_address canon = *checked;
  channel_binding* by_number = a.channel_by_number(*number);
  channel_binding* by_peer = a.channel_by_peer(canon);
  // The number is bound to another peer, or the peer to another number: 400.
  if ((by_number != nullptr && by_number->peer != canon) ||
      (by_peer != nullptr && by_peer->number != *number)) {
    send_error(a.client, req, p::error::bad_request, {}, &auth);
    return;
  }
  const auto channel_expiry = now.mono + t.channel_lifetime;
  const auto permission_expiry = now.mono + t.permission_lifetime;
  permission* perm = a.find_permission(canon);
  // Both caps before anything is installed.
  if ((by_number == nullptr && a.channels.size() >= t.max_channels) ||
      (perm == nullptr && a.permissions.size() >= t.max_permissions)) {
    send_error(a.client, req, p::error::insufficient_capacity, {}, &auth);
    return;
  }
  if (by_number != nullptr) {
    by_number->expiry = channel_expiry;
  } else {
    a.channels.push_back({*number, canon, channel_expiry});
  }
  if (perm != nullptr) {
    perm->expiry = std::max(perm->expiry, permission_expiry);
  } else {
    a.permissions.push_back({canon, permission_expiry});
  }
  schedule(a, permission_expiry);
  sync_kernel(a);
  p::message_builder b(*out_, p::method::channel_bind, p::msg_class::success_response,
                       req.tid_bytes());
  ++counters_.success_responses;
  finish_and_send(a.client, b, req, &auth);
}

void engine::on_send_indication(const five_tuple& path, const p::message_view& ind,
                                const instant& now) noexcept {
  // RFC 8656 section 10.2: drop silently unless everything is in order.
  const auto it = allocations_.find(path);
  if (it == allocations_.end()) {
    ++counters_.dropped_no_allocation;
    return;
  }
  allocation& a = it->second;
  const auto peer_attr = ind.find(p::attr::xor_peer_address);
  const auto data_attr = ind.find(p::attr::data);
  if (!peer_attr || !data_attr) {
    ++counters_.dropped_malformed;
    return;
  }
  auto peer = p::decode_xor_address(peer_attr->value, ind.tid_bytes());
  if (!peer) {
    ++counters_.dropped_malformed;
    return;
  }
  const auto canon = peer_policy::canonical(*peer);
  permission* perm = a.find_permission(canon);
  if (perm == nullptr || perm->expiry <= now.mono || !policy_->permits(canon)) {
    ++counters_.dropped_no_permission;
    return;
  }
  const relay_endpoint* relay = a.relay_for(canon.family);
  if (relay == nullptr) {
    ++counters_.dropped_no_permission;
    return;
  }
  if (!spend(a, data_attr->value.size(), now)) return;
  ++counters_.relayed_to_peer_packets;
  counters_.relayed_to_peer_bytes += data_attr->value.size();
  ++a.traffic.received_packets;
  a.traffic.received_bytes += data_attr->value.size();
  ++counters_.relayed_packets_by[static_cast<std::size_t>(a.client.proto)][0];
  counters_.relayed_bytes_by[static_cast<std::size_t>(a.client.proto)][0] +=
      data_attr->value.size();
  relays_->send_to_peer(relay->id, canon, data_attr->value);
}

void engine::on_channel_data(const five_tuple& path, p::byte_span bytes,
                             const instant& now) noexcept {
  if (!settings_.turn) {
    ++counters_.dropped_channel_data;
    return;
  }
  const auto cd = p::parse_channel_data(bytes);
  if (!cd) {
    ++counters_.dropped_malformed;
    return;
  }
  const auto it = allocations_.find(path);
  if (it == allocations_.end()) {
    ++counters_.dropped_no_allocation;
    return;
  }
  allocation& a = it->second;
  channel_binding* ch = a.channel_by_number(cd->channel);
  if (ch == nullptr || ch->expiry <= now.mono) {
    ++counters_.dropped_channel_data;
    return;
  }
  permission* perm = a.find_permission(ch->peer);
  if (perm == nullptr || perm->expiry <= now.mono) {
    ++counters_.dropped_no_permission;
    return;
  }
  const relay_endpoint* relay = a.relay_for(ch->peer.family);
  if (relay == nullptr || !spend(a, cd->data.size(), now)) return;
  ++counters_.relayed_to_peer_packets;
  counters_.relayed_to_peer_bytes += cd->data.size();
  ++a.traffic.received_packets;
  a.traffic.received_bytes += cd->data.size();
  ++counters_.relayed_packets_by[static_cast<std::size_t>(a.client.proto)][0];
  counters_.relayed_bytes_by[static_cast<std::size_t>(a.client.proto)][0] += cd->data.size();
  relays_->send_to_peer(relay->id, ch->peer, cd->data);
}

void engine::on_peer_packet(relay_id relay, const p::transport_address& from, p::byte_span bytes,
                            const instant& now) noexcept {
  // RFC 8656 section 10.3 / 12.5: data from a peer with a permission goes to the client,
  // over its channel when one is bound, else in a Data indication.
  const auto key = by_relay_.find(relay);
  if (key == by_relay_.end()) {
    ++counters_.dropped_no_allocation;
    return;
  }
  allocation& a = allocations_.at(key->second);
  const auto peer = peer_policy::canonical(from);
  permission* perm = a.find_permission(peer);
  if (perm == nullptr || perm->expiry <= now.mono) {
    ++counters_.dropped_no_permission;
    return;
  }
  if (!spend(a, bytes.size(), now)) return;
  ++a.traffic.sent_packets;
  a.traffic.sent_bytes += bytes.size();
  ++counters_.relayed_packets_by[static_cast<std::size_t>(a.client.proto)][1];
  counters_.relayed_bytes_by[static_cast<std::size_t>(a.client.proto)][1] += bytes.size();
  channel_binding* ch = a.channel_by_peer(peer);
  if (ch != nullptr && ch->expiry > now.mono) {
    const bool stream = is_stream(a.client.proto);
    const auto n = p::write_channel_data(*out_, ch->number, bytes, stream);
    if (!n) return;
    ++counters_.relayed_to_client_packets;
    counters_.relayed_to_client_bytes += bytes.size();
    sink_.send_to_client(a.client, p::byte_span(out_->data(), *n));
    return;
  }
  // A fresh transaction ID per indication (RFC 8489 section 6): derived from a counter.
  p::transaction_id tid{};
  const std::uint64_t seq = ++counters_.relayed_to_client_packets;
  for (int i = 0; i < 8; ++i)
    tid[static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(seq >> (8 * i));
  tid[8] = static_cast<std::uint8_t>(relay);
  tid[9] = static_cast<std::uint8_t>(relay >> 8);
  tid[10] = static_cast<std::uint8_t>(relay >> 16);
  tid[11] = static_cast<std::uint8_t>(relay >> 24);
  p::message_builder b(*out_, p::method::data, p::msg_class::indication, tid);
  p::add_xor_address(b, p::attr::xor_peer_address, peer);
  b.add(p::attr::data, bytes);
  if (settings_.fingerprint_always) b.add_fingerprint();
  auto out = b.finish();
  if (!out) return;
  counters_.relayed_to_client_bytes += bytes.size();
  sink_.send_to_client(a.client, *out);
}

}  // namespace turnpike::server::engine
