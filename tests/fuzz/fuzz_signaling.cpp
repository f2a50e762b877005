// SPDX-License-Identifier: Apache-2.0
// libFuzzer target: the signaling service (server/signaling/service.hpp) driven by a script of
// WebSocket messages from three connections, HTTP requests (through Beast's parser, as the
// server reads them), closes and clock ticks, all taken from the input. Whatever comes: every
// answer to a WebSocket message is a JSON object, every HTTP answer has a known status and a
// JSON body (or the demo page), everything handed to a peer is a JSON object with a "type",
// and the room limits hold.
#include <boost/beast/core.hpp>
#include <boost/json.hpp>
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "server/signaling/service.hpp"

namespace http = boost::beast::http;
namespace json = boost::json;
namespace sig = turnpike::server::signaling;

namespace {

bool is_object(std::string_view text) {
  boost::system::error_code ec;
  const auto v = json::parse(text, ec);
  return !ec && v.is_object() && v.as_object().contains("type");
}

struct checking_link final : sig::peer_link {
  void deliver(const sig::text& m) override {
    if (!is_object(*m)) std::abort();
  }
};

sig::limits small_limits() {
  sig::limits l;
  l.peers_per_room = 3;
  l.rooms_per_ip = 2;
  l.max_peers = 6;
  l.max_message = 2048;
  l.backlog_bytes = 4096;
  l.idle = std::chrono::seconds(5);
  return l;
}

sig::ice_settings ice() {
  sig::ice_settings s;
  s.api_key = "fuzz-key-0123456789";
  s.secret = "s";
  s.urls = {"stun:127.0.0.1:3478"};
  return s;
}

void http_request(sig::service& svc, std::string_view bytes, sig::clock::time_point now) {
  http::request_parser<http::string_body> parser;
  parser.body_limit(svc.limit().max_message);
  parser.header_limit(8192);
  parser.eager(true);
  boost::beast::error_code ec;
  if (bytes.empty()) return;
  parser.put(boost::asio::buffer(bytes.data(), bytes.size()), ec);
  if (ec || !parser.is_done()) return;
  const auto req = parser.release();
  const auto res = svc.on_http(req, "10.0.0.9", now, 1800000000);
  switch (res.result_int()) {
    case 200:
    case 204:
    case 400:
    case 401:
    case 403:
    case 404:
    case 405:
    case 409:
    case 413:
    case 426:
    case 429:
    case 503:
      break;
    default:
      std::abort();
  }
  const std::string type(res[http::field::content_type]);
  if (type == "application/json") {
    boost::system::error_code jec;
    json::parse(res.body(), jec);
    if (jec) std::abort();
  } else if (res.result_int() != 204 && res.result_int() != 200) {
    std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  sig::service svc(small_limits(), ice(), true);
  checking_link links[3];
  sig::service::connection conns[3] = {{"10.0.0.1", {}}, {"10.0.0.1", {}}, {"10.0.0.2", {}}};
  sig::clock::time_point now{};
  // Steps are separated by 0xFF; a step's first byte says what it is.
  std::string_view rest(reinterpret_cast<const char*>(data), size);
  while (!rest.empty()) {
    const auto end = rest.find('\xff');
    std::string_view step = rest.substr(0, end);
    rest = end == std::string_view::npos ? std::string_view() : rest.substr(end + 1);
    if (step.empty()) continue;
    const auto op = static_cast<unsigned char>(step[0]) % 8;
    step.remove_prefix(1);
    if (op < 3) {
      const auto reply = svc.on_ws_message(conns[op], links[op], step, now);
      if (!reply.empty() && !is_object(reply)) std::abort();
    } else if (op < 5) {
      http_request(svc, step, now);
    } else if (op < 7) {
      svc.on_ws_closed(conns[op - 5]);
    } else {
      now += std::chrono::seconds(step.empty() ? 1 : static_cast<unsigned char>(step[0]) % 8);
      svc.tick(now);
    }
    const auto counts = svc.registry().counts();
    if (counts.peers > 6 || counts.rooms > counts.peers) std::abort();
  }
  for (auto& c : conns) svc.on_ws_closed(c);
  return 0;
}
