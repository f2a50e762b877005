// SPDX-License-Identifier: Apache-2.0
// A TURN client for adversarial tests: any method with any attributes, signed (long-term
// credentials, the nonce and realm of the last 401/438) or not, and the raw answer back.
#pragma once

#include <functional>
#include <random>
#include <string>

#include "protocol/attr_address.hpp"
#include "protocol/attr_error.hpp"
#include "protocol/attr_text.hpp"
#include "protocol/attr_turn.hpp"
#include "protocol/builder.hpp"
#include "protocol/long_term_key.hpp"
#include "support/stun_client.hpp"

namespace turnpike::test {

class turn_session {
 public:
  using extra_attributes = std::function<void(protocol::message_builder&)>;
  struct answer {
    int code = -1;  // 0: success; -1: no answer
    bytes raw;
  };

  turn_session(int type, const protocol::transport_address& server, std::string user,
               std::string password, std::optional<protocol::transport_address> from = std::nullopt)
      : client_(type, server, from), user_(std::move(user)), password_(std::move(password)) {}

  stun_client& client() noexcept { return client_; }
  const std::string& nonce() const noexcept { return nonce_; }
  const std::string& realm() const noexcept { return realm_; }
  void set_nonce(std::string nonce, std::string realm) {
    nonce_ = std::move(nonce);
    realm_ = std::move(realm);
  }

  static std::array<std::uint8_t, 12> fresh_tid() {
    static std::mt19937 rng{std::random_device{}()};
    std::array<std::uint8_t, 12> tid{};
    for (auto& b : tid) b = static_cast<std::uint8_t>(rng());
    return tid;
  }

  // The message as it would be sent: `extra` attributes, then (with `sign` and a nonce known)
  // USERNAME, REALM, NONCE, MESSAGE-INTEGRITY; then `after` (attributes past the integrity).
  bytes build(protocol::method m, const std::array<std::uint8_t, 12>& tid,
              const extra_attributes& extra, bool sign = true,
              const extra_attributes& after = {}) const {
    std::array<std::uint8_t, 16384> buf{};
    const auto cls = m == protocol::method::send ? protocol::msg_class::indication
                                                 : protocol::msg_class::request;
    protocol::message_builder b(buf, m, cls, tid);
    if (extra) extra(b);
    if (sign && !nonce_.empty()) {
      b.add(protocol::attr::username, std::string_view(user_));
      b.add(protocol::attr::realm, std::string_view(realm_));
      b.add(protocol::attr::nonce, std::string_view(nonce_));
      b.add_message_integrity(protocol::long_term_key_md5(user_, realm_, password_));
    }
    if (after) after(b);
    const auto out = b.finish();
    if (!out) throw std::runtime_error("message too large");
    return bytes(out->begin(), out->end());
  }

  // One request and its answer (matched by transaction ID). A 401/438 carrying a nonce is
  // remembered and, with `retry`, the request is sent once more signed with it.
  answer request(protocol::method m, const extra_attributes& extra = {}, bool retry = true,
                 const extra_attributes& after = {}) {
    for (int round = 0; round < 2; ++round) {
      const auto tid = fresh_tid();
      client_.send_raw(build(m, tid, extra, true, after));
      answer a = await(tid);
      if (a.code != 401 && a.code != 438) return a;
      const auto msg = protocol::message_view::parse(a.raw);
      const auto nonce = msg->find(protocol::attr::nonce);
      const auto realm = msg->find(protocol::attr::realm);
      if (!nonce || !realm) return a;
      nonce_ = std::string(*protocol::decode_text(protocol::attr::nonce, nonce->value));
      realm_ = std::string(*protocol::decode_text(protocol::attr::realm, realm->value));
      if (!retry || round == 1) return a;
    }
    return {};
  }

  answer await(const std::array<std::uint8_t, 12>& tid, int timeout_ms = 2000) {
    for (;;) {
      auto r = client_.receive(timeout_ms);
      if (!r) return {};
      const auto m = protocol::message_view::parse(*r);
      if (!m || !std::equal(tid.begin(), tid.end(), r->begin() + 8)) continue;
      answer a;
      a.raw = *r;
      if (m->cls() == protocol::msg_class::success_response) {
        a.code = 0;
      } else if (const auto ec = m->find(protocol::attr::error_code)) {
        a.code = protocol::decode_error_code(ec->value)->code;
      }
      return a;
    }
  }

  // Allocate (UDP or, with protocol::transport_tcp, an RFC 6062 TCP relay).
  answer allocate(std::uint8_t transport = protocol::transport_udp) {
    return request(protocol::method::allocate, [transport](protocol::message_builder& b) {
      protocol::add_requested_transport(b, transport);
    });
  }

  // Refresh with LIFETIME 0: deletes the allocation.
  answer remove() {
    return request(protocol::method::refresh,
                   [](protocol::message_builder& b) { b.add_u32(protocol::attr::lifetime, 0); });
  }

  static extra_attributes peers(std::vector<protocol::transport_address> list) {
    return [list = std::move(list)](protocol::message_builder& b) {
      for (const auto& p : list) protocol::add_xor_address(b, protocol::attr::xor_peer_address, p);
    };
  }

  answer create_permission(const protocol::transport_address& peer) {
    return request(protocol::method::create_permission, peers({peer}));
  }
  answer channel_bind(std::uint16_t channel, const protocol::transport_address& peer) {
    return request(protocol::method::channel_bind, [channel, peer](protocol::message_builder& b) {
      b.add_u32(protocol::attr::channel_number, std::uint32_t{channel} << 16);
      protocol::add_xor_address(b, protocol::attr::xor_peer_address, peer);
    });
  }
  answer connect(const protocol::transport_address& peer) {
    return request(protocol::method::connect, peers({peer}));
  }
  // A Send indication (unsigned, no answer).
  void send_indication(const protocol::transport_address& peer, const bytes& data) {
    client_.send_raw(build(
        protocol::method::send, fresh_tid(),
        [&](protocol::message_builder& b) {
          protocol::add_xor_address(b, protocol::attr::xor_peer_address, peer);
          b.add(protocol::attr::data, protocol::byte_span(data.data(), data.size()));
        },
        false));
  }

 private:
  stun_client client_;
  std::string user_, password_, nonce_, realm_;
};

// The XOR-RELAYED-ADDRESS of a successful Allocate answer.
inline protocol::transport_address relayed_of(const turn_session::answer& a) {
  const auto m = protocol::message_view::parse(a.raw);
  return *protocol::decode_xor_address(m->find(protocol::attr::xor_relayed_address)->value,
                                       m->tid_bytes());
}

// A Send indication to `peer` (an echoing peer the session has a permission for) comes back
// as a Data indication.
inline bool echoed(turn_session& s, const protocol::transport_address& peer) {
  s.send_indication(peer, bytes{'e', 'c', 'h', 'o'});
  const auto back = s.client().receive();
  if (!back) return false;
  const auto m = protocol::message_view::parse(*back);
  return m && m->is(protocol::method::data, protocol::msg_class::indication);
}

}  // namespace turnpike::test
