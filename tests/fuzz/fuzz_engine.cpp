// SPDX-License-Identifier: Apache-2.0
// libFuzzer target: the engine's packet entry point with RFC 5780 configured, over UDP and
// TCP paths. Whatever arrives, every response must itself be a well-formed STUN message.
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "protocol/message.hpp"
#include "server/engine/engine.hpp"

namespace p = turnpike::protocol;
namespace e = turnpike::server::engine;

namespace {

class checking_sink final : public e::client_sink {
 public:
  void send_to_client(const e::five_tuple&, p::byte_span bytes) override {
    // RFC 3489 answers have no cookie; everything else must parse.
    if (bytes.size() >= 8 && p::load_u32(bytes.data() + 4) != p::magic_cookie) return;
    if (!p::message_view::parse(bytes)) std::abort();
  }
};

e::engine& the_engine() {
  static checking_sink sink;
  static e::engine engine = [] {
    e::engine_settings s;
    s.software = "fuzz";
    e::engine_settings::rfc5780_addresses r;
    r.other_ip = {{*p::transport_address::parse_ip("127.0.0.1"),
                   *p::transport_address::parse_ip("127.0.0.2")}};
    r.port = 3478;
    r.alt_port = 3479;
    s.rfc5780 = r;
    return e::engine(s, sink);
  }();
  return engine;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const e::five_tuple path{(data[0] & 1) ? e::transport::tcp : e::transport::udp,
                           *p::transport_address::parse_ip("127.0.0.1", 3478),
                           *p::transport_address::parse_ip("192.0.2.1", 5000)};
  const e::instant now{e::clock::time_point{}, 1'800'000'000};
  the_engine().on_packet(path, p::byte_span(data + 1, size - 1), now);
  return 0;
}
