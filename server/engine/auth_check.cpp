// SPDX-License-Identifier: Apache-2.0
// Long-term credential checks for TURN requests (RFC 8489 sections 9.2.4, 9.2.5; RFC 8656
// section 5): 401 with REALM and a fresh NONCE when there is no MESSAGE-INTEGRITY, 400 when
// attributes are missing or the algorithm negotiation was tampered with, 438 for a stale
// nonce, 441 when a request on an allocation uses another user, then the HMAC check with the
// allocation's key or the key source's answer.
#include <spdlog/spdlog.h>

#include "protocol/attr_auth.hpp"
#include "protocol/attr_error.hpp"
#include "protocol/attr_text.hpp"
#include "protocol/builder.hpp"
#include "protocol/integrity.hpp"
#include "server/engine/engine.hpp"
#include "server/engine/request_auth.hpp"

namespace turnpike::server::engine {

namespace p = turnpike::protocol;

namespace {

constexpr std::array<p::password_algorithm, 2> offered_algorithms{p::password_algorithm::md5,
                                                                  p::password_algorithm::sha256};
// PASSWORD-ALGORITHMS as we send it: the request must echo it byte for byte.
constexpr std::array<std::uint8_t, 8> offered_algorithms_bytes{0, 1, 0, 0, 0, 2, 0, 0};

std::optional<std::string_view> text_of(const p::message_view& m, std::uint16_t type) noexcept {
  const auto a = m.find(type);
  if (!a) return std::nullopt;
  auto t = p::decode_text(type, a->value);
  if (!t) return std::nullopt;
  return *t;
}

}  // namespace

namespace {

std::uint64_t name_hash(std::string_view s) noexcept {
  std::uint64_t h = 1469598103934665603ull;  // FNV-1a
  for (const char c : s) h = (h ^ static_cast<std::uint8_t>(c)) * 1099511628211ull;
  return h == 0 ? 1 : h;
}

}  // namespace

bool engine::user_throttled(std::string_view username, const instant& now) noexcept {
  const unsigned limit = settings_.turn->failed_auth_per_user;
  if (limit == 0) return false;
  const std::uint64_t h = name_hash(username);
  const user_budget& slot = user_budget_[h % user_budget_.size()];
  return slot.user == h && slot.second == now.unix_seconds && slot.failed >= limit;
}

void engine::user_failed(std::string_view username, const instant& now) noexcept {
  const std::uint64_t h = name_hash(username);
  user_budget& slot = user_budget_[h % user_budget_.size()];
  if (slot.user != h || slot.second != now.unix_seconds) slot = {h, now.unix_seconds, 0};
  ++slot.failed;
}

void engine::send_unauthenticated(const five_tuple& path, const p::message_view& req, int code,
                                  const instant& now) noexcept {
  if (!challenges_->allow(path.remote, now.unix_seconds)) {
    ++counters_.unauthenticated_limited;
    return;
  }
  const turn_settings& t = *settings_.turn;
  p::message_builder b(*out_, req.method_code(), p::msg_class::error_response, req.tid_bytes());
  p::add_error_code(b, code, reason(code));
  p::add_text(b, p::attr::realm, t.realm);
  const auto nonce = t.nonce->make(now.unix_seconds, path.remote);
  b.add(p::attr::nonce, std::string_view(nonce.data(), nonce.size()));
  if (t.nonce->features() & p::security_feature::password_algorithms) {
    p::add_password_algorithms(b, offered_algorithms);
  }
  ++counters_.error_responses;
  finish_and_send(path, b, req, nullptr);
}

bool engine::verify_with(const p::message_view& req, const auth::credential& key,
                         bool sha256_key) const noexcept {
  p::byte_span k = key.md5;
  if (sha256_key) {
    if (!key.sha256) return false;
    k = *key.sha256;
  }
  if (req.message_integrity_sha256()) return p::check_message_integrity_sha256(req, k);
  return p::check_message_integrity(req, k);
}

void engine::authenticate(const five_tuple& path, const p::message_view& req, const instant& now,
                          allocation* existing) noexcept {
  const turn_settings& t = *settings_.turn;
  // RFC 8489 section 9.2.4, step 1: no integrity at all -> 401 with realm and nonce.
  if (!req.message_integrity() && !req.message_integrity_sha256()) {
    count_auth_failure(auth_failure::challenge);
    send_unauthenticated(path, req, p::error::unauthenticated, now);
    return;
  }
  // Step 2: the attributes that go with integrity. USERHASH alone is not served (Turnpike
  // does not offer username anonymity), so it counts as an unknown user.
  const auto username = text_of(req, p::attr::username);
  const auto realm = text_of(req, p::attr::realm);
  const auto nonce = text_of(req, p::attr::nonce);
  if ((!username && !req.find(p::attr::userhash)) || !realm || !nonce) {
    count_auth_failure(auth_failure::missing_attributes);
    send_error(path, req, p::error::bad_request);
    return;
  }
  // Step 3: the nonce must be ours, recent, and issued to this client.
  if (t.nonce->check(*nonce, now.unix_seconds, path.remote) != nonce_codec::verdict::valid) {
    count_auth_failure(auth_failure::stale_nonce);
    send_unauthenticated(path, req, p::error::stale_nonce, now);
    return;
  }
  // Section 9.2.5: with the password-algorithms bit in the nonce, PASSWORD-ALGORITHMS must be
  // echoed unchanged and PASSWORD-ALGORITHM must be one of them; both or neither.
  bool sha256 = false;
  const auto algs = req.find(p::attr::password_algorithms);
  const auto alg = req.find(p::attr::password_algorithm);
  if (algs || alg) {
    if (!algs || !alg ||
        !std::equal(algs->value.begin(), algs->value.end(), offered_algorithms_bytes.begin(),
                    offered_algorithms_bytes.end())) {
      count_auth_failure(auth_failure::password_algorithms);
      send_error(path, req, p::error::bad_request);
      return;
    }
    const auto chosen = p::decode_password_algorithm(alg->value);
    if (!chosen || (chosen->algorithm != 1 && chosen->algorithm != 2)) {
      count_auth_failure(auth_failure::password_algorithms);
      send_error(path, req, p::error::bad_request);
      return;
    }
    sha256 = chosen->algorithm == static_cast<std::uint16_t>(p::password_algorithm::sha256);
  }
  if (!username || *realm != t.realm) {
    count_auth_failure(auth_failure::wrong_realm);
    send_unauthenticated(path, req, p::error::unauthenticated, now);
    return;
  }
  request_auth a;
  a.authenticated = true;
  a.key_is_sha256 = sha256;
  a.mi256 = req.message_integrity_sha256().has_value();
  a.username = *username;

  if (existing != nullptr) {
    // RFC 8656 section 5: requests on an allocation use the credentials that created it.
    if (*username != existing->username) {
      count_auth_failure(auth_failure::wrong_user);
      send_error(path, req, p::error::wrong_credentials);
      return;
    }
    if (!verify_with(req, existing->key, sha256)) {
      count_auth_failure(auth_failure::bad_credentials);
      send_unauthenticated(path, req, p::error::unauthenticated, now);
      return;
    }
    a.key = existing->key;
    dispatch_authenticated(path, req, a, now);
    return;
  }

  // Too many wrong passwords for this user this second: new attempts are dropped unchecked
  // (a guess cannot be confirmed), until the next second. Requests on an existing
  // allocation were handled above and are never throttled.
  if (user_throttled(*username, now)) {
    count_auth_failure(auth_failure::user_throttled);
    return;
  }
  // Ask the key source; the answer comes back through on_key_answer, maybe at once. The
  // request is copied: the answer may arrive after its datagram is gone.
  const ask_id ask = next_ask_++;
  key_waits_.emplace(
      ask, key_wait{path, std::vector<std::uint8_t>(req.bytes().begin(), req.bytes().end()), sha256,
                    a.mi256});
  stores_->find_key(ask, *username, *realm, now.unix_seconds);
}

void engine::on_key_answer(ask_id ask, const auth::lookup_result& result,
                           const instant& now) noexcept {
  const auto it = key_waits_.find(ask);
  if (it == key_waits_.end()) return;
  const key_wait wait = std::move(it->second);
  key_waits_.erase(it);
  const auto m = p::message_view::parse(wait.request);
  if (!m) return;
  request_auth a;
  a.authenticated = true;
  a.key_is_sha256 = wait.key_is_sha256;
  a.mi256 = wait.mi256;
  a.username = *text_of(*m, p::attr::username);  // a view into `wait`, alive until we return
  if (result.status == auth::lookup_status::unavailable) {
    count_auth_failure(auth_failure::store_unavailable);
    send_error(wait.path, *m, p::error::server_error);
    return;
  }
  for (const auth::credential& key : result.keys) {
    if (verify_with(*m, key, a.key_is_sha256)) {
      a.key = key;
      dispatch_authenticated(wait.path, *m, a, now);
      return;
    }
  }
  count_auth_failure(auth_failure::bad_credentials);
  user_failed(a.username, now);
  send_unauthenticated(wait.path, *m, p::error::unauthenticated, now);
}

}  // namespace turnpike::server::engine
