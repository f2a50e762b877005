// SPDX-License-Identifier: Apache-2.0
// libFuzzer target: the STUN message parser and every attribute decoder, on arbitrary bytes.
// Also checks that a message that parses can be walked, looked up and verified without fault.
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "protocol/attr_address.hpp"
#include "protocol/attr_auth.hpp"
#include "protocol/attr_error.hpp"
#include "protocol/attr_nat.hpp"
#include "protocol/attr_text.hpp"
#include "protocol/attr_turn.hpp"
#include "protocol/channel_data.hpp"
#include "protocol/integrity.hpp"
#include "protocol/message.hpp"

namespace p = turnpike::protocol;

namespace {

void decode_everything(const p::message_view& m) {
  std::size_t count = 0;
  for (const p::attribute a : m.attributes()) {
    ++count;
    if (a.offset < p::header_size || a.offset + 4 + a.value.size() > m.size()) std::abort();
    switch (a.type) {
      case p::attr::mapped_address:
      case p::attr::alternate_server:
      case p::attr::response_origin:
      case p::attr::other_address:
        (void)p::decode_address(a.value);
        break;
      case p::attr::xor_mapped_address:
      case p::attr::xor_peer_address:
      case p::attr::xor_relayed_address: {
        auto x = p::decode_xor_address(a.value, m.tid_bytes());
        if (x) (void)x->to_string();
        break;
      }
      case p::attr::error_code:
        (void)p::decode_error_code(a.value);
        break;
      case p::attr::unknown_attributes: {
        auto u = p::decode_unknown_attributes(a.value);
        if (u) {
          for (std::size_t i = 0; i < u->size(); ++i) (void)(*u)[i];
        }
        break;
      }
      case p::attr::address_error_code:
        (void)p::decode_address_error_code(a.value);
        break;
      case p::attr::username:
      case p::attr::realm:
      case p::attr::nonce:
      case p::attr::software:
      case p::attr::alternate_domain: {
        auto t = p::decode_text(a.type, a.value);
        if (t && a.type == p::attr::nonce) (void)p::parse_nonce_cookie(*t);
        break;
      }
      case p::attr::channel_number:
        (void)p::decode_channel_number(a.value);
        break;
      case p::attr::lifetime:
      case p::attr::connection_id:
        (void)p::decode_u32(a.value);
        break;
      case p::attr::requested_transport:
        (void)p::decode_requested_transport(a.value);
        break;
      case p::attr::requested_address_family:
      case p::attr::additional_address_family:
        (void)p::decode_address_family(a.value);
        break;
      case p::attr::even_port:
        (void)p::decode_even_port(a.value);
        break;
      case p::attr::dont_fragment:
        (void)p::decode_dont_fragment(a.value);
        break;
      case p::attr::reservation_token:
        (void)p::decode_reservation_token(a.value);
        break;
      case p::attr::icmp:
        (void)p::decode_icmp(a.value);
        break;
      case p::attr::password_algorithm:
        (void)p::decode_password_algorithm(a.value);
        break;
      case p::attr::password_algorithms: {
        auto v = p::decode_password_algorithms(a.value);
        if (v) (void)v->contains(2);
        break;
      }
      case p::attr::userhash:
        (void)p::decode_userhash(a.value);
        break;
      case p::attr::change_request:
        (void)p::decode_change_request(a.value);
        break;
      case p::attr::response_port:
        (void)p::decode_response_port(a.value);
        break;
      case p::attr::mobility_ticket:
        (void)p::decode_mobility_ticket(a.value);
        break;
      default:
        break;
    }
  }
  if (count > m.size() / 4) std::abort();
  std::uint16_t unknown[4];
  (void)m.unknown_comprehension_required(unknown);
  for (std::uint16_t t : {p::attr::username, p::attr::realm, p::attr::fingerprint,
                          p::attr::message_integrity, p::attr::message_integrity_sha256}) {
    (void)m.find(t);
  }
  static const std::uint8_t key[16] = {1, 2, 3};
  (void)p::check_fingerprint(m);
  (void)p::check_message_integrity(m, key);
  (void)p::check_message_integrity_sha256(m, key);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const p::byte_span in(data, size);
  if (auto m = p::message_view::parse(in)) {
    if (m->size() != size) std::abort();
    decode_everything(*m);
  }
  if (auto cd = p::parse_channel_data(in)) {
    if (cd->data.size() + 4 > size) std::abort();
  }
  return 0;
}
