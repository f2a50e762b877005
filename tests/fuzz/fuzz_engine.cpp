// SPDX-License-Identifier: Apache-2.0
// libFuzzer target: the engine's entry points, over UDP and TCP paths, from clients and from
// peers, and the answers of its stores. Two engines: anonymous TURN with RFC 5780 (so every
// method is reachable) and long-term credentials; both ask a quota and relay bound channels
// of UDP clients through a checked kernel data path (kernel-relay). The stores' answers come
// from the input too: whether each waiting question is answered now or later, with what, and
// answers to questions never asked. State carries over between inputs, so allocations made by
// one input meet the packets of the next. Whatever arrives, every answer must be well-formed
// STUN or ChannelData.
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include <deque>
#include <map>

#include "protocol/channel_data.hpp"
#include "protocol/long_term_key.hpp"
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

// A kernel data path that holds the engine to its side of kernel_io: routes only for UDP
// clients and into a slot the allocation holds, slots given back once, traffic read only from
// a held slot. Four slots (so "none left" happens) and every seventh install refused.
class checking_kernel final : public e::kernel_io {
 public:
  std::optional<std::uint32_t> take_slot() override {
    if (slots_.size() >= 4) return std::nullopt;
    std::uint32_t s = 0;
    while (slots_.contains(s)) ++s;
    slots_[s] = 0;
    return s;
  }
  void give_slot(std::uint32_t slot) override {
    if (slots_.erase(slot) == 0) std::abort();
  }
  bool install(const e::kernel_route& r) override {
    if (!slots_.contains(r.slot) || r.client.proto != e::transport::udp) std::abort();
    return ++installs_ % 7 != 0;
  }
  void remove(const e::kernel_route&) override {}
  e::allocation_traffic traffic(std::uint32_t slot) override {
    const auto it = slots_.find(slot);
    if (it == slots_.end()) std::abort();
    const std::uint64_t n = ++it->second;  // grows with every read, as the kernel's would
    return {n, n * 100, n, n * 160};
  }

 private:
  std::map<std::uint32_t, std::uint64_t> slots_;  // held slot -> reads so far
  unsigned installs_ = 0;
};

// Remembers the engine's questions; the input decides the answers.
class fuzz_stores final : public e::store_io {
 public:
  void find_key(e::ask_id ask, std::string_view, std::string_view, std::int64_t) override {
    keys_.push_back(ask);
  }
  void acquire_quota(std::uint64_t lease, std::string_view, std::string_view) override {
    quotas_.push_back(lease);
  }
  void release_quota(std::uint64_t, std::string_view, std::string_view) override {}

  // Each waiting question takes one input byte: bit 7 leaves it waiting; else bits 0-1 pick
  // the answer, and bit 6 adds an answer to a question never asked.
  void answer(e::engine& engine, p::byte_span choices, const e::instant& now) {
    std::size_t next = 0;
    auto choice = [&]() -> std::uint8_t {
      return choices.empty() ? 0 : choices[next++ % choices.size()];
    };
    for (std::size_t n = keys_.size(); n > 0; --n) {
      const std::uint8_t c = choice();
      const e::ask_id ask = keys_.front();
      keys_.pop_front();
      if (c & 0x80) {
        keys_.push_back(ask);
        continue;
      }
      turnpike::auth::lookup_result r;
      r.status = static_cast<turnpike::auth::lookup_status>(c % 3);
      if (r.status == turnpike::auth::lookup_status::found) {
        turnpike::auth::credential k;
        k.md5 = p::long_term_key_md5("user", "fuzz", "pass");
        if (c & 4) k.sha256 = p::long_term_key_sha256("user", "fuzz", "pass");
        r.keys.push_back(k);
      }
      engine.on_key_answer((c & 0x40) ? ask + 1000 : ask, r, now);
    }
    for (std::size_t n = quotas_.size(); n > 0; --n) {
      const std::uint8_t c = choice();
      const std::uint64_t lease = quotas_.front();
      quotas_.pop_front();
      if (c & 0x80) {
        quotas_.push_back(lease);
        continue;
      }
      engine.on_quota_answer((c & 0x40) ? lease + 1000 : lease,
                             static_cast<turnpike::auth::quota_verdict>(c % 3), now);
    }
  }

 private:
  std::deque<e::ask_id> keys_;
  std::deque<std::uint64_t> quotas_;
};

void counter_random(std::span<std::uint8_t> out) {
  static std::uint8_t n = 0;
  for (auto& b : out) b = ++n;
}

struct fuzzed {
  e::engine& engine;
  fuzz_stores& stores;
};

fuzzed anonymous_engine() {
  static checking_sink sink;
  static fake_relays relays;
  static fuzz_stores stores;
  static checking_kernel kernel;
  static e::engine engine = [] {
    e::engine_settings s;
    s.software = "fuzz";
    s.random = counter_random;
    e::engine_settings::rfc5780_addresses r;
    r.other_ip = {{*p::transport_address::parse_ip("127.0.0.1"),
                   *p::transport_address::parse_ip("127.0.0.2")}};
    r.port = 3478;
    r.alt_port = 3479;
    s.rfc5780 = r;
    e::turn_settings t;
    t.realm = "fuzz";  // no key source: anonymous TURN, so every method is reachable
    t.quota = true;
    t.peers.allow_loopback = true;
    t.tcp_relay = true;  // RFC 6062 requests reach their handlers (the fake never connects)
    s.turn = t;
    return e::engine(s, sink, &relays, &stores, &kernel);
  }();
  return {engine, stores};
}

fuzzed authenticating_engine() {
  static checking_sink sink;
  static fake_relays relays;
  static fuzz_stores stores;
  static checking_kernel kernel;
  static e::engine engine = [] {
    e::engine_settings s;
    s.random = counter_random;
    e::turn_settings t;
    t.realm = "fuzz";
    t.long_term_credentials = true;
    t.quota = true;
    t.unauthenticated_per_second = 1'000'000;  // the budget never hides a path
    t.peers.allow_loopback = true;
    s.turn = t;
    return e::engine(s, sink, &relays, &stores, &kernel);
  }();
  return {engine, stores};
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  // First byte: bit 0 transport, bit 1 client or peer side, bit 2 which engine, bits 3-7
  // advance the clock. The stores' answers take their choices from the body's last bytes.
  static e::instant now{e::clock::time_point{} + std::chrono::hours(1), 1'800'000'000};
  now.mono += std::chrono::seconds(data[0] >> 3);
  now.unix_seconds += data[0] >> 3;
  const e::five_tuple path{(data[0] & 1) ? e::transport::tcp : e::transport::udp,
                           *p::transport_address::parse_ip("127.0.0.1", 3478),
                           *p::transport_address::parse_ip("192.0.2.1", 5000)};
  const fuzzed f = (data[0] & 4) ? authenticating_engine() : anonymous_engine();
  e::engine& engine = f.engine;
  const p::byte_span body(data + 1, size - 1);
  if (data[0] & 2) {
    engine.on_peer_packet(1, *p::transport_address::parse_ip("203.0.113.9", 7000), body, now);
  } else {
    engine.on_packet(path, body, now);
  }
  f.stores.answer(engine, body.last(std::min<std::size_t>(body.size(), 8)), now);
  if (engine.next_deadline() <= now.mono) engine.on_timer(now);
  return 0;
}
