// SPDX-License-Identifier: Apache-2.0
// The signaling service's logic without sockets: WebSocket messages and HTTP requests in,
// answers out, over one `rooms`. signaling_server.cpp runs it on connections; the unit tests
// and the fuzz target (tests/fuzz/fuzz_signaling.cpp) run it directly.
//
// WebSocket (path /ws), one JSON object per text message:
//   {"type":"join","room":R}             -> {"type":"joined","room":R,"peer":ID,"peers":[...]}
//   {"type":"offer"|"answer","sdp":S}    -> relayed to the room (or to "to") with "from":ID
//   {"type":"candidate","candidate":C}   -> relayed likewise (C as the browser gave it, null
//                                           for end-of-candidates)
//   {"type":"leave"} -> {"type":"left"};  {"type":"ping"} -> {"type":"pong"}
//   others get {"type":"peer-joined"|"peer-left","peer":ID}; refusals are
//   {"type":"error","error":NAME,"message":TEXT} and the connection stays open.
// HTTP, the same rooms for clients that poll:
//   POST /join {"room":R}                      -> {"room","peer","token","peers"}
//   POST /offer|/answer|/ice {...,"token":T}   -> {"delivered":N}  (without a token, "room"
//                                                 joins first and the answer has peer/token)
//   GET /offer|/answer|/ice|/events?token=T    -> {"messages":[...]} waiting of that kind
//   POST /leave {"token":T}
//   GET /ice-servers?user=NAME with "Authorization: Bearer KEY" -> RTCConfiguration iceServers
//   with TURN REST credentials (expiry:user, base64 HMAC-SHA1 under the static-auth-secret);
//   after 10 wrong keys from one source, 429 with Retry-After, one try per 6 s
//   (key_throttle.hpp)
//   GET / -> the demo page
#pragma once

#include <boost/beast/http.hpp>
#include <boost/url/params_view.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "server/signaling/key_throttle.hpp"
#include "server/signaling/rooms.hpp"

namespace turnpike::server::signaling {

namespace http = boost::beast::http;
using request = http::request<http::string_body>;
using response = http::response<http::string_body>;

struct ice_settings {
  std::string api_key;  // empty: /ice-servers is off (404)
  std::string secret;   // the static-auth-secret credentials are signed with
  char separator = ':';
  unsigned ttl = 86400;           // seconds
  std::vector<std::string> urls;  // stun:/turn:/turns: URLs
};

struct service_counters {
  std::uint64_t ws_messages = 0;
  std::uint64_t http_requests = 0;
  std::uint64_t relayed = 0;  // messages handed to peers
  std::uint64_t refused = 0;  // answers with an "error"
  std::uint64_t credentials_issued = 0;
  std::uint64_t credentials_refused = 0;    // /ice-servers without the right key (401)
  std::uint64_t credentials_throttled = 0;  // refused unread after too many of those (429)
};

class service {
 public:
  service(limits l, ice_settings ice, bool demo_page);

  // One WebSocket connection's state.
  struct connection {
    std::string ip;
    std::optional<std::string> peer;  // set once joined
  };
  // Handles one text message; returns what to send back on this connection (empty: nothing).
  std::string on_ws_message(connection& c, peer_link& link, std::string_view message,
                            clock::time_point now);
  // The connection closed: leaves its room.
  void on_ws_closed(connection& c);
  // The answer to one HTTP request from `ip`. `unix_now` dates REST credentials.
  response on_http(const request& req, const std::string& ip, clock::time_point now,
                   std::int64_t unix_now);
  // The answer refusing `req` with `e`, for refusals decided before the request is parsed
  // (a body over signaling-max-message).
  response on_http_refusal(const request& req, error e, std::string_view message);
  // Called about once a second: drops HTTP peers that stopped polling.
  // Called about once a second: drops HTTP peers that stopped polling, forgets sources of
  // wrong API keys that have waited long enough.
  void tick(clock::time_point now) {
    rooms_.expire(now);
    keys_.expire(now);
  }
  // What wrong API keys did since the last report, at most once per 10 s (for the log).
  std::optional<key_throttle::report> take_key_report(clock::time_point now) {
    return keys_.take_report(now);
  }

  const rooms& registry() const noexcept { return rooms_; }
  const service_counters& counters() const noexcept { return counters_; }
  const limits& limit() const noexcept { return rooms_.limit(); }

  // {"type":"error","error":NAME,"message":TEXT}
  static std::string error_json(error e, std::string_view message);

 private:
  response http_api(const request& req, std::string_view path,
                    const boost::urls::params_view& params, const std::string& ip,
                    clock::time_point now);
  response ice_servers(const request& req, std::string_view user, const std::string& ip,
                       clock::time_point now, std::int64_t unix_now);

  rooms rooms_;
  ice_settings ice_;
  bool demo_;
  key_throttle keys_{key_throttle::settings{}};
  service_counters counters_;
};

// The iceServers JSON for `username`/`credential`: {"iceServers":[{"urls":[...],...}],"ttl":N}.
std::string ice_servers_body(const std::vector<std::string>& urls, std::string_view username,
                             std::string_view credential, unsigned ttl);

}  // namespace turnpike::server::signaling
