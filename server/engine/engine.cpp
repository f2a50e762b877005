// SPDX-License-Identifier: Apache-2.0
// Request processing: RFC 8489 section 6.3 (receiving a message), section 10 (Binding),
// RFC 5780 section 6 (behaviour discovery server), RFC 3489 section 11.2.1 (classic
// Binding requests without the magic cookie).
#include "server/engine/engine.hpp"

#include <spdlog/spdlog.h>

#include "protocol/attr_address.hpp"
#include "protocol/attr_error.hpp"
#include "protocol/attr_nat.hpp"
#include "protocol/attr_text.hpp"
#include "protocol/builder.hpp"
#include "protocol/channel_data.hpp"
#include "protocol/error.hpp"
#include "protocol/integrity.hpp"

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
  packets_in += o.packets_in;
  bytes_in += o.bytes_in;
  binding_requests += o.binding_requests;
  binding_classic += o.binding_classic;
  success_responses += o.success_responses;
  error_responses += o.error_responses;
  dropped_malformed += o.dropped_malformed;
  dropped_bad_fingerprint += o.dropped_bad_fingerprint;
  dropped_not_request += o.dropped_not_request;
  dropped_channel_data += o.dropped_channel_data;
  dropped_unanswered += o.dropped_unanswered;
  return *this;
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

engine::engine(engine_settings settings, client_sink& sink)
    : settings_(std::move(settings)), sink_(sink) {}

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

void engine::on_packet(const five_tuple& path, p::byte_span bytes) noexcept {
  ++counters_.packets_in;
  counters_.bytes_in += bytes.size();
  if (p::looks_like_channel_data(bytes)) {
    ++counters_.dropped_channel_data;  // no channels exist before TURN allocations do
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
      p::message_builder b(out_, p::method_of(p::load_u16(bytes.data())),
                           p::msg_class::error_response, bytes.subspan(8, 12));
      p::add_error_code(b, p::error::bad_request, p::default_reason(p::error::bad_request));
      if (settings_.fingerprint_always) b.add_fingerprint();
      if (auto out = b.finish()) {
        ++counters_.error_responses;
        sink_.send_to_client(path, *out);
      }
    }
    return;
  }
  const p::message_view& m = *parsed;
  // RFC 8489 section 7.3: a FINGERPRINT that does not match means this is not STUN.
  if (m.fingerprint() && !p::check_fingerprint(m)) {
    ++counters_.dropped_bad_fingerprint;
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
  // TURN methods are not served yet: a clear 400 rather than silence.
  send_error(path, m, p::error::bad_request);
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

  p::message_builder b(out_, p::method::binding, p::msg_class::success_response, req.tid_bytes());
  p::add_xor_address(b, p::attr::xor_mapped_address, path.remote);
  if (settings_.backward_compatibility) p::add_address(b, p::attr::mapped_address, path.remote);
  if (settings_.rfc5780) {
    p::add_address(b, p::attr::response_origin, reply_path.local);
    if (auto other = other_address(path.local)) p::add_address(b, p::attr::other_address, *other);
  }
  if (!settings_.software.empty()) p::add_text(b, p::attr::software, settings_.software);
  // RFC 5780 section 7.6: pad the response like the request, over UDP, while it fits.
  if (const auto pad = req.find(p::attr::padding); pad && path.proto == transport::udp) {
    const std::size_t room = out_.size() - b.size() - 8 /* FINGERPRINT */ - 4;
    if (pad->value.size() <= room) p::add_padding(b, pad->value.size());
  }
  if (settings_.fingerprint_always || req.fingerprint()) b.add_fingerprint();
  auto out = b.finish();
  if (!out) {
    ++counters_.dropped_malformed;
    return;
  }
  ++counters_.success_responses;
  sink_.send_to_client(reply_path, *out);
}

void engine::on_classic_binding(const five_tuple& path, p::byte_span bytes) noexcept {
  // RFC 3489: the 16 bytes after the length are the transaction ID; answer with
  // MAPPED-ADDRESS only and echo all 16 bytes.
  ++counters_.binding_classic;
  if (!settings_.answer_binding) {
    ++counters_.dropped_unanswered;
    return;
  }
  p::message_builder b(out_, p::method::binding, p::msg_class::success_response,
                       bytes.subspan(8, 12));
  p::add_address(b, p::attr::mapped_address, path.remote);
  auto out = b.finish();
  if (!out) return;
  std::copy_n(bytes.begin() + 4, 4, out_.begin() + 4);
  ++counters_.success_responses;
  sink_.send_to_client(path, *out);
}

void engine::send_error(const five_tuple& path, const p::message_view& req, int code,
                        std::span<const std::uint16_t> unknown) noexcept {
  p::message_builder b(out_, req.method_code(), p::msg_class::error_response, req.tid_bytes());
  p::add_error_code(b, code, p::default_reason(code));
  if (!unknown.empty()) p::add_unknown_attributes(b, unknown);
  if (!settings_.software.empty()) p::add_text(b, p::attr::software, settings_.software);
  if (settings_.fingerprint_always || req.fingerprint()) b.add_fingerprint();
  auto out = b.finish();
  if (!out) return;
  ++counters_.error_responses;
  sink_.send_to_client(path, *out);
}

}  // namespace turnpike::server::engine
