// SPDX-License-Identifier: Apache-2.0
// libFuzzer target: the engine's entry points with RFC 5780 and anonymous TURN configured (a
// fake relay allocator), over UDP and TCP paths, from clients and from peers. State carries
// over between inputs, so allocations made by one input meet the packets of the next.
// Whatever arrives, every answer must be well-formed STUN or ChannelData.
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "protocol/channel_data.hpp"
#include "protocol/message.hpp"
#include "server/engine/engine.hpp"

namespace p = turnpike::protocol;
namespace e = turnpike::server::engine;

namespace {

class checking_sink final : public e::client_sink {
 public:
  void send_to_client(const e::five_tuple&, p::byte_span bytes) override {
    if (p::looks_like_channel_data(bytes)) {
      if (!p::parse_channel_data(bytes)) std::abort();
      return;
    }
    // RFC 3489 answers have no cookie; everything else must parse.
    if (bytes.size() >= 8 && p::load_u32(bytes.data() + 4) != p::magic_cookie) return;
    if (!p::message_view::parse(bytes)) std::abort();
  }
};

class fake_relays final : public e::relay_io {
 public:
  std::optional<e::opened_relay> open_relay(const e::relay_request& r,
                                            e::relay_error& why) override {
    if (r.family != p::address_family::ipv4 || open_ > 64) {
      why = e::relay_error::no_such_family;
      return std::nullopt;
    }
    ++open_;
    e::opened_relay o;
    o.id = ++next_;
    o.local = *p::transport_address::parse_ip("198.51.100.1",
                                              static_cast<std::uint16_t>(50000 + next_ % 1000));
    return o;
  }
  void close_relay(e::relay_id) override { --open_; }
  void send_to_peer(e::relay_id, const p::transport_address&, p::byte_span) override {}

 private:
  e::relay_id next_ = 0;
  int open_ = 0;
};

e::engine& the_engine() {
  static checking_sink sink;
  static fake_relays relays;
  static e::engine engine = [] {
    e::engine_settings s;
    s.software = "fuzz";
    e::engine_settings::rfc5780_addresses r;
    r.other_ip = {{*p::transport_address::parse_ip("127.0.0.1"),
                   *p::transport_address::parse_ip("127.0.0.2")}};
    r.port = 3478;
    r.alt_port = 3479;
    s.rfc5780 = r;
    e::turn_settings t;
    t.realm = "fuzz";  // no key source: anonymous TURN, so every method is reachable
    t.peers.allow_loopback = true;
    t.tcp_relay = true;  // RFC 6062 requests reach their handlers (the fake never connects)
    s.turn = t;
    return e::engine(s, sink, &relays);
  }();
  return engine;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  // First byte: bit 0 transport, bit 1 client or peer side, bits 2-7 advance the clock.
  static e::instant now{e::clock::time_point{} + std::chrono::hours(1), 1'800'000'000};
  now.mono += std::chrono::seconds(data[0] >> 2);
  now.unix_seconds += data[0] >> 2;
  const e::five_tuple path{(data[0] & 1) ? e::transport::tcp : e::transport::udp,
                           *p::transport_address::parse_ip("127.0.0.1", 3478),
                           *p::transport_address::parse_ip("192.0.2.1", 5000)};
  e::engine& engine = the_engine();
  const p::byte_span body(data + 1, size - 1);
  if (data[0] & 2) {
    engine.on_peer_packet(1, *p::transport_address::parse_ip("203.0.113.9", 7000), body, now);
  } else {
    engine.on_packet(path, body, now);
  }
  if (engine.next_deadline() <= now.mono) engine.on_timer(now);
  return 0;
}
