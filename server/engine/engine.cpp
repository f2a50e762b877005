// SPDX-License-Identifier: Apache-2.0
// Request processing: RFC 8489 section 6.3 (receiving a message), section 10 (Binding),
// RFC 5780 section 6 (behaviour discovery server), RFC 3489 section 11.2.1 (classic
// Binding requests without the magic cookie).
#include "server/engine/engine.hpp"

#include <spdlog/spdlog.h>
#include <stdexcept>

#include "protocol/attr_address.hpp"
#include "protocol/attr_auth.hpp"
#include "protocol/attr_error.hpp"
#include "protocol/attr_nat.hpp"
#include "protocol/attr_text.hpp"
#include "protocol/builder.hpp"
#include "protocol/channel_data.hpp"
#include "protocol/error.hpp"
#include "protocol/integrity.hpp"
#include "server/engine/request_auth.hpp"

namespace turnpike::server::engine {

namespace p = turnpike::protocol;

const char* transport_name(transport t) noexcept {
  switch (t) {
    case transport::udp:
      return "udp";
    case transport::tcp:
      return "tcp";
    case transport::tls:
      return "tls";
    case transport::dtls:
      return "dtls";
  }
  return "?";
}

engine_counters& engine_counters::operator+=(const engine_counters& o) noexcept {
#define TURNPIKE_ADD_COUNTER(member, family, label, help) member += o.member;
  TURNPIKE_ENGINE_COUNTERS(TURNPIKE_ADD_COUNTER)
#undef TURNPIKE_ADD_COUNTER
  for (std::size_t t = 0; t < relayed_packets_by.size(); ++t) {
    for (std::size_t d = 0; d < 2; ++d) {
      relayed_packets_by[t][d] += o.relayed_packets_by[t][d];
      relayed_bytes_by[t][d] += o.relayed_bytes_by[t][d];
    }
  }
  for (std::size_t m = 0; m < responses.size(); ++m) {
    for (std::size_t c = 0; c < responses[m].size(); ++c) responses[m][c] += o.responses[m][c];
  }
  for (std::size_t r = 0; r < auth_failures.size(); ++r) auth_failures[r] += o.auth_failures[r];
  return *this;
}

engine_gauges& engine_gauges::operator+=(const engine_gauges& o) noexcept {
  for (std::size_t t = 0; t < allocations.size(); ++t) {
    for (std::size_t f = 0; f < 2; ++f) allocations[t][f] += o.allocations[t][f];
  }
  permissions += o.permissions;
  channels += o.channels;
  pending_allocates += o.pending_allocates;
  return *this;
}

engine_gauges engine::gauges() const noexcept {
  engine_gauges g;
  for (const auto& [tuple, a] : allocations_) {
    for (const relay_endpoint& r : a.relays) {
      ++g.allocations[static_cast<std::size_t>(tuple.proto)]
                     [r.relayed.family == p::address_family::ipv6 ? 1 : 0];
    }
    g.permissions += a.permissions.size();
    g.channels += a.channels.size();
  }
  g.pending_allocates = pending_allocates_.size();
  return g;
}

void engine::count_auth_failure(auth_failure why) noexcept {
  ++counters_.auth_failures[static_cast<std::size_t>(why)];
}

void engine::count_response(p::byte_span msg) noexcept {
  if (msg.size() < p::header_size) return;
  const std::uint16_t type = p::load_u16(msg.data());
  const bool error = p::class_of(type) == p::msg_class::error_response;
  const std::uint16_t method = p::method_of(type);
  std::size_t mi = response_methods.size() - 1;
  for (std::size_t i = 0; i + 1 < response_methods.size(); ++i) {
    if (response_methods[i] == method) mi = i;
  }
  int code = 200;
  if (error) {
    code = 0;
    if (auto m = p::message_view::parse(msg)) {
      if (auto ec = m->find(p::attr::error_code)) {
        if (auto decoded = p::decode_error_code(ec->value)) code = decoded->code;
      }
    }
  }
  std::size_t ci = response_codes.size() - 1;
  for (std::size_t i = 0; i + 1 < response_codes.size(); ++i) {
    if (response_codes[i] == code) ci = i;
  }
  ++counters_.responses[mi][ci];
}

namespace {

bool same_ip(const p::transport_address& a, const p::transport_address& b) noexcept {
  return a.family == b.family && a.ip == b.ip;
}

// True when the 20-byte header is sound, so a request whose attributes are broken can still
// be answered with 400 (RFC 8489 section 6.3: header checks failing mean "not STUN").
bool header_is_sound(p::byte_span b) noexcept {
  return b.size() >= p::header_size && (b[0] & 0xC0) == 0 &&
         p::load_u32(b.data() + 4) == p::magic_cookie &&
         p::header_size + p::load_u16(b.data() + 2) == b.size();
}

}  // namespace

std::size_t five_tuple_hash::operator()(const five_tuple& t) const noexcept {
  // FNV-1a over the fields that vary; cheap and good enough for a per-shard table.
  std::size_t h = 1469598103934665603ull;
  auto mix = [&h](const std::uint8_t* b, std::size_t n) {
    for (std::size_t i = 0; i < n; ++i) h = (h ^ b[i]) * 1099511628211ull;
  };
  const auto proto = static_cast<std::uint8_t>(t.proto);
  mix(&proto, 1);
  for (const auto* a : {&t.local, &t.remote}) {
    mix(a->ip.data(), a->ip.size());
    const std::uint8_t port[2] = {static_cast<std::uint8_t>(a->port >> 8),
                                  static_cast<std::uint8_t>(a->port)};
    mix(port, 2);
  }
  return h;
}

engine::engine(engine_settings settings, client_sink& sink, relay_io* relays, store_io* stores,
               kernel_io* kernel)
    : settings_(std::move(settings)),
      sink_(sink),
      relays_(relays),
      stores_(stores),
      kernel_(kernel),
      out_(std::make_unique<std::array<std::uint8_t, 65536 + 128>>()) {
  if (settings_.turn) {
    if (!settings_.random) throw std::invalid_argument("engine: TURN needs a random source");
    if (relays_ == nullptr) throw std::invalid_argument("engine: TURN needs relay_io");
    if ((settings_.turn->long_term_credentials || settings_.turn->quota) && stores_ == nullptr) {
      throw std::invalid_argument("engine: credentials and quotas need store_io");
    }
    // Authentication needs nonces; a caller that gave keys but no nonce codec gets one with
    // a random secret (nonces then only hold within this process).
    if (settings_.turn->long_term_credentials && !settings_.turn->nonce) {
      std::array<std::uint8_t, 32> secret{};
      settings_.random(secret);
      settings_.turn->nonce.emplace(secret, std::chrono::seconds(600),
                                    p::security_feature::password_algorithms);
    }
    policy_.emplace(settings_.turn->peers);
    challenges_.emplace(settings_.turn->unauthenticated_per_second,
                        settings_.turn->unauthenticated_per_second_proven,
                        settings_.turn->proven_for);
    capacity_tokens_ = static_cast<double>(settings_.turn->capacity_bps);
    configured_peers_ = settings_.turn->peers;
    configured_max_bps_ = settings_.turn->max_bps;
  }
}

void engine::set_draining(std::optional<p::transport_address> alternate) {
  draining_ = true;
  alternate_ = alternate;
}

void engine::set_realm_options(const auth::realm_options& r) {
  if (!settings_.turn) return;
  peer_policy_options o = configured_peers_;
  o.allowed.insert(o.allowed.end(), r.allowed.begin(), r.allowed.end());
  o.denied.insert(o.denied.end(), r.denied.begin(), r.denied.end());
  policy_.emplace(std::move(o));
  settings_.turn->max_bps = r.max_bps.value_or(configured_max_bps_);
  // The kernel relays only what the new policy and limit allow.
  for (auto& [path, a] : allocations_) sync_kernel(a);
}

engine::~engine() {
  close_all();
}

std::optional<p::transport_address> engine::other_ip(
    const p::transport_address& local) const noexcept {
  if (!settings_.rfc5780) return std::nullopt;
  for (const auto& [primary, other] : settings_.rfc5780->other_ip) {
    if (same_ip(primary, local)) return other;
  }
  return std::nullopt;
}

std::optional<p::transport_address> engine::other_address(
    const p::transport_address& local) const noexcept {
  auto ip = other_ip(local);
  if (!ip) return std::nullopt;
  const auto& r = *settings_.rfc5780;
  ip->port = local.port == r.port ? r.alt_port : r.port;
  return ip;
}

void engine::on_packet(const five_tuple& path, p::byte_span bytes, const instant& now) noexcept {
  ++counters_.packets_in;
  counters_.bytes_in += bytes.size();
  if (p::looks_like_channel_data(bytes)) {
    on_channel_data(path, bytes, now);
    return;
  }
  auto parsed = p::message_view::parse(bytes);
  if (!parsed) {
    const auto ec = parsed.error();
    if (ec == p::errc::bad_magic_cookie && settings_.backward_compatibility &&
        bytes.size() >= p::header_size && p::load_u16(bytes.data()) == 0x0001 &&
        p::header_size + p::load_u16(bytes.data() + 2) == bytes.size()) {
      on_classic_binding(path, bytes);
      return;
    }
    ++counters_.dropped_malformed;
    // A request with a sound header but broken attributes gets 400 (RFC 8489 section 6.3.1).
    if (header_is_sound(bytes) && p::class_of(p::load_u16(bytes.data())) == p::msg_class::request) {
      p::message_builder b(*out_, p::method_of(p::load_u16(bytes.data())),
                           p::msg_class::error_response, bytes.subspan(8, 12));
      p::add_error_code(b, p::error::bad_request, reason(p::error::bad_request));
      ++counters_.error_responses;
      finish_and_send(path, b, false, nullptr);
    }
    return;
  }
  const p::message_view& m = *parsed;
  // RFC 8489 section 7.3: a FINGERPRINT that does not match means this is not STUN.
  if (m.fingerprint() && !p::check_fingerprint(m)) {
    ++counters_.dropped_bad_fingerprint;
    return;
  }
  if (m.is(p::method::send, p::msg_class::indication) && settings_.turn) {
    on_send_indication(path, m, now);
    return;
  }
  if (m.cls() != p::msg_class::request) {
    ++counters_.dropped_not_request;  // Binding indications (keep-alives) and stray responses
    return;
  }
  // RFC 8489 section 6.3.1: unknown comprehension-required attributes -> 420.
  std::array<std::uint16_t, 8> unknown{};
  if (const std::size_t n = m.unknown_comprehension_required(unknown); n > 0) {
    send_error(path, m, p::error::unknown_attribute,
               std::span(unknown).first(std::min(n, unknown.size())));
    return;
  }
  if (m.method_code() == static_cast<std::uint16_t>(p::method::binding)) {
    if (!settings_.answer_binding) {
      ++counters_.dropped_unanswered;
      return;
    }
    on_binding(path, m);
    return;
  }
  if (!settings_.turn) {
    send_error(path, m, p::error::bad_request);  // stun-only: a clear answer, not silence
    return;
  }
  on_turn_request(path, m, now);
}

void engine::on_binding(const five_tuple& path, const p::message_view& req) noexcept {
  ++counters_.binding_requests;
  if (settings_.log_binding) {
    spdlog::debug("binding request from {} over {}", path.remote.to_string(),
                  transport_name(path.proto));
  }
  five_tuple reply_path = path;
  const auto change = req.find(p::attr::change_request);
  const auto response_port = req.find(p::attr::response_port);
  if (change || response_port) {
    // RFC 5780 section 6.1: without an alternate address these are unknown attributes.
    if (!settings_.rfc5780) {
      std::array<std::uint16_t, 2> types{};
      std::size_t n = 0;
      if (change) types[n++] = p::attr::change_request;
      if (response_port) types[n++] = p::attr::response_port;
      send_error(path, req, p::error::unknown_attribute, std::span(types).first(n));
      return;
    }
    // Both redirect a UDP response; a stream has only the connection it came on.
    if (path.proto != transport::udp) {
      send_error(path, req, p::error::bad_request);
      return;
    }
    if (change) {
      auto cr = p::decode_change_request(change->value);
      if (!cr) {
        send_error(path, req, p::error::bad_request);
        return;
      }
      if (cr->change_ip) {
        auto ip = other_ip(path.local);
        if (!ip) {
          send_error(path, req, p::error::bad_request);
          return;
        }
        reply_path.local.family = ip->family;
        reply_path.local.ip = ip->ip;
      }
      if (cr->change_port) {
        const auto& r = *settings_.rfc5780;
        reply_path.local.port = path.local.port == r.port ? r.alt_port : r.port;
      }
    }
    if (response_port) {
      auto port = p::decode_response_port(response_port->value);
      if (!port || *port == 0) {
        send_error(path, req, p::error::bad_request);
        return;
      }
      reply_path.remote.port = *port;
    }
  }

  p::message_builder b(*out_, p::method::binding, p::msg_class::success_response, req.tid_bytes());
  // XOR-MAPPED-ADDRESS only: a client that sent the magic cookie reads it (RFC 8489), and
  // every optional attribute makes the answer a better reflector. RFC 3489 clients (no
  // cookie) get MAPPED-ADDRESS from on_classic_binding.
  p::add_xor_address(b, p::attr::xor_mapped_address, path.remote);
  if (settings_.rfc5780) {
    p::add_address(b, p::attr::response_origin, reply_path.local);
    if (auto other = other_address(path.local)) p::add_address(b, p::attr::other_address, *other);
  }
  // RFC 5780 section 7.6: pad the response like the request, over UDP, while it fits.
  if (const auto pad = req.find(p::attr::padding); pad && path.proto == transport::udp) {
    // Never more than a 1500-byte answer, whatever the request asked for.
    const std::size_t room = 1500 - std::min<std::size_t>(1500, b.size() + 8 + 4 + 36);
    if (pad->value.size() <= room) p::add_padding(b, pad->value.size());
  }
  ++counters_.success_responses;
  finish_and_send(reply_path, b, req, nullptr);
}

void engine::on_classic_binding(const five_tuple& path, p::byte_span bytes) noexcept {
  // RFC 3489: the 16 bytes after the length are the transaction ID; answer with
  // MAPPED-ADDRESS only and echo all 16 bytes.
  ++counters_.binding_classic;
  if (!settings_.answer_binding) {
    ++counters_.dropped_unanswered;
    return;
  }
  p::message_builder b(*out_, p::method::binding, p::msg_class::success_response,
                       bytes.subspan(8, 12));
  p::add_address(b, p::attr::mapped_address, path.remote);
  auto out = b.finish();
  if (!out) return;
  std::copy_n(bytes.begin() + 4, 4, out_->begin() + 4);
  ++counters_.success_responses;
  count_response(*out);
  sink_.send_to_client(path, *out);
}

std::string_view engine::reason(int code) const noexcept {
  return settings_.include_reason ? p::default_reason(code) : std::string_view{};
}

void engine::send_error(const five_tuple& path, const p::message_view& req, int code,
                        std::span<const std::uint16_t> unknown, const request_auth* auth) noexcept {
  p::message_builder b(*out_, req.method_code(), p::msg_class::error_response, req.tid_bytes());
  p::add_error_code(b, code, reason(code));
  if (!unknown.empty()) p::add_unknown_attributes(b, unknown);
  ++counters_.error_responses;
  finish_and_send(path, b, req, auth);
}

void engine::finish_and_send(const five_tuple& path, p::message_builder& b,
                             bool request_had_fingerprint, const request_auth* auth) noexcept {
  if (!settings_.software.empty()) p::add_text(b, p::attr::software, settings_.software);
  if (auth != nullptr && auth->authenticated) {
    if (auth->mi256) {
      b.add_message_integrity_sha256(auth->key_bytes());
    } else {
      b.add_message_integrity(auth->key_bytes());
    }
  }
  if (settings_.fingerprint_always || request_had_fingerprint) b.add_fingerprint();
  auto out = b.finish();
  if (!out) return;
  count_response(*out);
  sink_.send_to_client(path, *out);
}

}  // namespace turnpike::server::engine
