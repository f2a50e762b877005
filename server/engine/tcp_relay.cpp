// SPDX-License-Identifier: Apache-2.0
// TURN TCP allocations (RFC 6062): Connect (section 5.2), ConnectionAttempt for peers that
// connect in (5.3), ConnectionBind on a new data connection (5.4). The engine decides and
// answers; the network layer makes and joins the TCP connections (relay_io).
#include <array>

#include "protocol/attr_address.hpp"
#include "protocol/attr_error.hpp"
#include "protocol/attr_text.hpp"
#include "protocol/attr_turn.hpp"
#include "protocol/builder.hpp"
#include "protocol/integrity.hpp"
#include "server/engine/engine.hpp"
#include "server/engine/request_auth.hpp"

namespace turnpike::server::engine {

namespace p = turnpike::protocol;

std::uint32_t engine::new_connection_id() noexcept {
  std::uint32_t id = 0;
  while (id == 0) {
    std::array<std::uint8_t, 4> b{};
    settings_.random(b);
    id = std::uint32_t{b[0]} << 24 | std::uint32_t{b[1]} << 16 | std::uint32_t{b[2]} << 8 | b[3];
  }
  return id;
}

void engine::on_connect(allocation& a, const p::message_view& req, const request_auth& auth,
                        const instant&) noexcept {
  // Section 5.2: only on a TCP allocation, over the control connection.
  if (!a.tcp) {
    send_error(a.client, req, p::error::bad_request, {}, &auth);
    return;
  }
  const auto peer_attr = req.find(p::attr::xor_peer_address);
  if (!peer_attr) {
    send_error(a.client, req, p::error::bad_request, {}, &auth);
    return;
  }
  const auto peer = checked_peer(a, req, peer_attr->value, true, auth);
  if (!peer) return;
  for (const pending_connect& c : a.connects) {
    if (c.peer == *peer) {
      send_error(a.client, req, p::error::connection_already_exists, {}, &auth);
      return;
    }
  }
  pending_connect c;
  c.connection_id = new_connection_id();
  c.peer = *peer;
  c.tid = req.tid();
  c.mi256 = auth.mi256;
  c.fingerprint = req.fingerprint().has_value();
  a.connects.push_back(c);
  connecting_[c.connection_id] = a.client;
  relays_->connect_peer(a.relays.front().id, *peer, c.connection_id,
                        {a.username, a.key, a.key_is_sha256});
}

void engine::on_peer_connected(std::uint32_t connection_id, bool ok) noexcept {
  const auto key = connecting_.find(connection_id);
  if (key == connecting_.end()) return;
  const five_tuple client = key->second;
  connecting_.erase(key);
  const auto it = allocations_.find(client);
  if (it == allocations_.end()) return;
  allocation& a = it->second;
  const auto c = std::find_if(a.connects.begin(), a.connects.end(), [&](const pending_connect& x) {
    return x.connection_id == connection_id;
  });
  if (c == a.connects.end()) return;
  const pending_connect done = *c;
  a.connects.erase(c);
  // The answer to the Connect, signed with the allocation's key as the request was.
  request_auth auth;
  auth.authenticated = settings_.turn->long_term_credentials;
  auth.key = a.key;
  auth.key_is_sha256 = a.key_is_sha256;
  auth.mi256 = done.mi256;
  p::message_builder b(*out_, p::method::connect,
                       ok ? p::msg_class::success_response : p::msg_class::error_response,
                       done.tid);
  if (ok) {
    b.add_u32(p::attr::connection_id, connection_id);
    ++counters_.success_responses;
  } else {
    const int code = p::error::connection_timeout_or_failure;
    p::add_error_code(b, code, reason(code));
    ++counters_.error_responses;
  }
  finish_and_send(a.client, b, done.fingerprint, &auth);
}

bool engine::on_peer_tcp_connection(relay_id relay, const p::transport_address& from,
                                    const instant& now, const connection_holder& hold) noexcept {
  // Section 5.3: a peer with a permission may connect in; the client hears of it once the
  // connection is held under its id.
  const auto key = by_relay_.find(relay);
  if (key == by_relay_.end()) return false;
  allocation& a = allocations_.at(key->second);
  const auto peer = peer_policy::canonical(from);
  const permission* perm = a.find_permission(peer);
  if (!a.tcp || perm == nullptr || perm->expiry <= now.mono) {
    ++counters_.dropped_no_permission;
    return false;
  }
  const std::uint32_t id = new_connection_id();
  try {
    if (!hold(id, tcp_connection_credentials{a.username, a.key, a.key_is_sha256})) return false;
  } catch (const std::bad_alloc&) {
    return false;
  }
  p::transaction_id tid{};
  settings_.random(tid);
  p::message_builder b(*out_, p::method::connection_attempt, p::msg_class::indication, tid);
  b.add_u32(p::attr::connection_id, id);
  p::add_xor_address(b, p::attr::xor_peer_address, peer);
  if (settings_.fingerprint_always) b.add_fingerprint();
  if (auto out = b.finish()) sink_.send_to_client(a.client, *out);
  return true;
}

void engine::on_connection_bind(const five_tuple& path, const p::message_view& req,
                                const instant& now) noexcept {
  // Section 5.4: on a new stream connection, authenticated with the allocation's
  // credentials, naming a connection the server holds.
  if (!is_stream(path.proto)) {
    send_error(path, req, p::error::bad_request);
    return;
  }
  const auto id_attr = req.find(p::attr::connection_id);
  std::optional<std::uint32_t> id;
  if (id_attr) {
    if (auto v = p::decode_u32(id_attr->value)) id = *v;
  }
  const auto credentials =
      id ? relays_->connection_credentials(*id) : std::optional<tcp_connection_credentials>{};
  if (!credentials) {
    send_error(path, req, p::error::bad_request);
    return;
  }
  request_auth auth;
  if (settings_.turn->long_term_credentials) {
    if (!req.message_integrity() && !req.message_integrity_sha256()) {
      send_unauthenticated(path, req, p::error::unauthenticated, now);
      return;
    }
    const auto user = req.find(p::attr::username);
    const auto nonce = req.find(p::attr::nonce);
    std::string_view nonce_text;
    if (nonce) {
      if (auto t = p::decode_text(p::attr::nonce, nonce->value)) nonce_text = *t;
    }
    if (!user || settings_.turn->nonce->check(nonce_text, now.unix_seconds, path.remote) !=
                     nonce_codec::verdict::valid) {
      send_unauthenticated(path, req, p::error::stale_nonce, now);
      return;
    }
    const auto name = p::decode_text(p::attr::username, user->value);
    if (!name || *name != credentials->username) {
      send_error(path, req, p::error::wrong_credentials);
      return;
    }
    if (!verify_with(req, credentials->key, credentials->key_is_sha256)) {
      send_unauthenticated(path, req, p::error::unauthenticated, now);
      return;
    }
    auth.authenticated = true;
    auth.key = credentials->key;
    auth.key_is_sha256 = credentials->key_is_sha256;
    auth.mi256 = req.message_integrity_sha256().has_value();
  }
  // Join first (nothing from the peer can overtake this answer: its reads are asynchronous),
  // then answer; from here on the connection carries raw bytes.
  if (!relays_->bind_connection(*id, path)) {
    send_error(path, req, p::error::bad_request, {}, &auth);
    return;
  }
  p::message_builder b(*out_, p::method::connection_bind, p::msg_class::success_response,
                       req.tid_bytes());
  ++counters_.success_responses;
  finish_and_send(path, b, req, &auth);
}

}  // namespace turnpike::server::engine
