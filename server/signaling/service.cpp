// SPDX-License-Identifier: Apache-2.0
// Signaling messages (Boost.JSON), the HTTP API (Boost.URL for targets) and /ice-servers.
#include "server/signaling/service.hpp"

#include "server/http/bearer.hpp"

#include <openssl/crypto.h>

#include <array>
#include <boost/json.hpp>
#include <boost/url/parse.hpp>
#include <boost/url/url_view.hpp>

#include "auth/rest_secrets.hpp"
#include "server/signaling/demo_page.hpp"

namespace turnpike::server::signaling {
namespace {

namespace json = boost::json;

struct parsed {
  json::object object;
  std::optional<error> failure;
  std::string why;
};

parsed parse_object(std::string_view text, std::size_t max) {
  parsed p;
  if (text.size() > max) {
    p.failure = error::message_too_big;
    p.why = "a message may have at most " + std::to_string(max) + " bytes";
    return p;
  }
  json::parse_options opts;
  opts.max_depth = 16;
  boost::system::error_code ec;
  json::value v = json::parse(text, ec, {}, opts);
  if (ec) {
    p.failure = error::bad_json;
    p.why = "not JSON: " + ec.message();
    return p;
  }
  if (!v.is_object()) {
    p.failure = error::bad_json;
    p.why = "expected a JSON object";
    return p;
  }
  p.object = std::move(v.as_object());
  return p;
}

// The member `name` as a string, or nullopt (absent or another type).
std::optional<std::string> string_member(const json::object& o, std::string_view name) {
  const auto* v = o.if_contains(name);
  if (v == nullptr || !v->is_string()) return std::nullopt;
  return std::string(v->as_string());
}

// offer, answer or candidate, and whether the object has what that kind needs.
struct relay_kind {
  std::optional<kind> k;
  std::string why;
};
relay_kind check_relayable(const json::object& o, std::string_view type) {
  relay_kind r;
  if (type == "offer" || type == "answer") {
    const auto sdp = string_member(o, "sdp");
    if (!sdp || sdp->empty()) {
      r.why = std::string(type) + " needs a non-empty string \"sdp\"";
      return r;
    }
    r.k = type == "offer" ? kind::offer : kind::answer;
  } else if (type == "candidate") {
    if (!o.contains("candidate")) {
      r.why = "candidate needs a \"candidate\" member (null for end-of-candidates)";
      return r;
    }
    r.k = kind::candidate;
  } else {
    r.why = "unknown type";
    return r;
  }
  if (const auto* to = o.if_contains("to"); to != nullptr && !to->is_string()) {
    r.k.reset();
    r.why = "\"to\" must be a peer id string";
  }
  return r;
}

// What is forwarded: the sender's object as it came (SDP and candidates untouched) without
// routing members, with "from" set by the server.
text stamp(json::object o, const std::string& from, std::string_view type) {
  o.erase("to");
  o.erase("token");
  o.erase("room");
  o["type"] = type;
  o["from"] = from;
  return std::make_shared<const std::string>(json::serialize(o));
}

http::status status_of(error e) {
  switch (e) {
    case error::bad_json:
    case error::bad_message:
    case error::bad_room:
      return http::status::bad_request;
    case error::message_too_big:
      return http::status::payload_too_large;
    case error::not_joined:
      return http::status::forbidden;
    case error::already_joined:
    case error::room_full:
      return http::status::conflict;
    case error::too_many_rooms:
      return http::status::too_many_requests;
    case error::server_full:
      return http::status::service_unavailable;
    case error::unknown_peer:
    case error::unknown_room:
    case error::not_found:
      return http::status::not_found;
    case error::unauthorized:
      return http::status::unauthorized;
    case error::throttled:
      return http::status::too_many_requests;
    case error::method_not_allowed:
      return http::status::method_not_allowed;
  }
  return http::status::bad_request;
}

response make_response(const request& req, http::status status, std::string body,
                       std::string_view content_type = "application/json") {
  response res;
  res.version(req.version());
  res.keep_alive(req.keep_alive());
  res.result(status);
  res.set(http::field::server, "turnpike");
  res.set(http::field::content_type, content_type);
  res.set(http::field::cache_control, "no-store");
  // No cookies are used anywhere, so any origin may call the API (the key guards credentials).
  res.set(http::field::access_control_allow_origin, "*");
  res.body() = std::move(body);
  return res;
}

response error_response(const request& req, error e, std::string_view message) {
  auto res = make_response(req, status_of(e), service::error_json(e, message));
  if (e == error::unauthorized) res.set(http::field::www_authenticate, "Bearer realm=\"turnpike\"");
  return res;
}

// Up to 256 bytes of UTF-8 without control characters: it becomes part of a JSON answer and
// of the TURN username the browser sends back, byte for byte.
bool printable_name(std::string_view s) {
  if (s.size() > 256) return false;
  for (const char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) return false;
  }
  // Boost.JSON's parser checks UTF-8; serializing first escapes quotes and backslashes.
  boost::system::error_code ec;
  json::parse(json::serialize(json::value(json::string_view(s.data(), s.size()))), ec);
  return !ec;
}

json::array peer_ids(const std::vector<std::string>& ids) {
  json::array a;
  for (const auto& id : ids) a.emplace_back(id);
  return a;
}

std::string joined_json(const std::string& room, const rooms::joined& j, bool with_token) {
  json::object o;
  o["type"] = "joined";
  o["room"] = room;
  o["peer"] = j.peer;
  if (with_token) o["token"] = j.token;
  o["peers"] = peer_ids(j.others);
  return json::serialize(o);
}

// The HTTP paths that carry relayed messages, with the message type each stands for.
struct relay_path {
  std::string_view path;
  std::string_view type;
  kind k;
};
constexpr std::array<relay_path, 3> relay_paths{{{"/offer", "offer", kind::offer},
                                                 {"/answer", "answer", kind::answer},
                                                 {"/ice", "candidate", kind::candidate}}};
const relay_path* relay_path_of(std::string_view path) {
  for (const auto& r : relay_paths) {
    if (r.path == path) return &r;
  }
  return nullptr;
}

}  // namespace

std::string service::error_json(error e, std::string_view message) {
  json::object o;
  o["type"] = "error";
  o["error"] = error_name(e);
  o["message"] = message;
  return json::serialize(o);
}

std::string ice_servers_body(const std::vector<std::string>& urls, std::string_view username,
                             std::string_view credential, unsigned ttl) {
  json::array list;
  for (const auto& u : urls) list.emplace_back(u);
  json::object server;
  server["urls"] = std::move(list);
  server["username"] = username;
  server["credential"] = credential;
  json::object o;
  o["iceServers"] = json::array{std::move(server)};
  o["ttl"] = ttl;
  return json::serialize(o);
}

service::service(limits l, ice_settings ice, bool demo_page)
    : rooms_(l), ice_(std::move(ice)), demo_(demo_page) {}

std::string service::on_ws_message(connection& c, peer_link& link, std::string_view message,
                                   clock::time_point now) {
  ++counters_.ws_messages;
  auto refuse = [&](error e, std::string_view why) {
    ++counters_.refused;
    return error_json(e, why);
  };
  parsed p = parse_object(message, rooms_.limit().max_message);
  if (p.failure) return refuse(*p.failure, p.why);
  const auto type = string_member(p.object, "type");
  if (!type) return refuse(error::bad_message, "a message needs a string \"type\"");
  if (*type == "ping") return R"({"type":"pong"})";
  if (*type == "join") {
    if (c.peer) return refuse(error::already_joined, "this connection is in a room already");
    const auto room = string_member(p.object, "room");
    if (!room) return refuse(error::bad_message, "join needs a string \"room\"");
    auto j = rooms_.join(*room, c.ip, &link, now);
    if (!j.ok) return refuse(j.failure, "cannot join this room");
    c.peer = j.ok->peer;
    return joined_json(*room, *j.ok, false);
  }
  if (*type == "leave") {
    if (!c.peer) return refuse(error::not_joined, "not in a room");
    rooms_.leave(*c.peer);
    c.peer.reset();
    return R"({"type":"left"})";
  }
  const relay_kind rk = check_relayable(p.object, *type);
  if (!rk.k) return refuse(error::bad_message, rk.why);
  if (!c.peer) return refuse(error::not_joined, "join a room first");
  const auto to = string_member(p.object, "to");
  const auto r = rooms_.relay(*c.peer, to, *rk.k, stamp(std::move(p.object), *c.peer, *type));
  if (r.failure) return refuse(*r.failure, "no such peer in this room");
  counters_.relayed += r.delivered;
  return {};
}

void service::on_ws_closed(connection& c) {
  if (c.peer) rooms_.leave(*c.peer);
  c.peer.reset();
}

response service::on_http(const request& req, const std::string& ip, clock::time_point now,
                          std::int64_t unix_now) {
  ++counters_.http_requests;
  auto target = boost::urls::parse_origin_form(req.target());
  if (!target) {
    ++counters_.refused;
    return error_response(req, error::bad_message, "the request target is not a path");
  }
  const boost::urls::url_view& url = *target;
  std::string path = url.path();
  if (req.method() == http::verb::options) {
    auto res = make_response(req, http::status::no_content, "");
    res.erase(http::field::content_type);
    res.set(http::field::access_control_allow_methods, "GET, POST, OPTIONS");
    res.set(http::field::access_control_allow_headers, "Authorization, Content-Type");
    res.set(http::field::access_control_max_age, "600");
    return res;
  }
  if (path == "/" || path == "/index.html" || path == "/demo.js") {
    if (req.method() != http::verb::get && req.method() != http::verb::head) {
      return error_response(req, error::method_not_allowed, "GET only");
    }
    if (!demo_) {
      return make_response(req, http::status::ok, "Turnpike signaling\n",
                           "text/plain; charset=utf-8");
    }
    const bool script = path == "/demo.js";
    auto res =
        make_response(req, http::status::ok, std::string(script ? demo_script : demo_html),
                      script ? "text/javascript; charset=utf-8" : "text/html; charset=utf-8");
    res.set(http::field::cache_control, "no-cache");
    res.set("Content-Security-Policy",
            "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
            "connect-src 'self' ws: wss:; media-src 'self' blob: mediastream:");
    res.set("X-Content-Type-Options", "nosniff");
    return res;
  }
  if (path == "/ws") {
    auto res = error_response(req, error::bad_message, "WebSocket upgrade expected here");
    res.result(http::status::upgrade_required);
    res.set(http::field::upgrade, "websocket");
    return res;
  }
  if (path == "/ice-servers") {
    if (req.method() != http::verb::get) {
      ++counters_.refused;
      return error_response(req, error::method_not_allowed, "GET only");
    }
    std::string user;
    if (auto it = url.params().find("user"); it != url.params().end()) user = (*it).value;
    return ice_servers(req, user, ip, now, unix_now);
  }
  auto res = http_api(req, path, url.params(), ip, now);
  if (res.result() != http::status::ok) ++counters_.refused;
  return res;
}

response service::on_http_refusal(const request& req, error e, std::string_view message) {
  ++counters_.http_requests;
  ++counters_.refused;
  return error_response(req, e, message);
}

response service::ice_servers(const request& req, std::string_view user, const std::string& ip,
                              clock::time_point now, std::int64_t unix_now) {
  if (ice_.api_key.empty()) {
    return error_response(req, error::not_found,
                          "/ice-servers is off: set signaling-api-key (and use-auth-secret)");
  }
  if (const auto wait = keys_.wait(ip, now); wait > clock::duration::zero()) {
    ++counters_.credentials_throttled;
    auto res = error_response(req, error::throttled, "too many wrong API keys: try again later");
    const auto seconds = std::chrono::ceil<std::chrono::seconds>(wait).count();
    res.set(http::field::retry_after, std::to_string(seconds));
    return res;
  }
  if (!http_auth::bearer_matches(req, ice_.api_key)) {
    ++counters_.credentials_refused;
    keys_.failed(ip, now);
    return error_response(req, error::unauthorized,
                          "send Authorization: Bearer <signaling-api-key>");
  }
  if (!printable_name(user)) {
    return error_response(req, error::bad_message,
                          "user must be up to 256 bytes of UTF-8 without control characters");
  }
  std::string username = std::to_string(unix_now + static_cast<std::int64_t>(ice_.ttl));
  if (!user.empty()) username.append(1, ice_.separator).append(user);
  const std::string credential = auth::rest_secrets::password_for(ice_.secret, username);
  ++counters_.credentials_issued;
  return make_response(req, http::status::ok,
                       ice_servers_body(ice_.urls, username, credential, ice_.ttl));
}

response service::http_api(const request& req, std::string_view path,
                           const boost::urls::params_view& params, const std::string& ip,
                           clock::time_point now) {
  const relay_path* relayed = relay_path_of(path);
  const bool poll_path = relayed != nullptr || path == "/events";
  const bool post_path = relayed != nullptr || path == "/join" || path == "/leave";
  if (!poll_path && !post_path) return error_response(req, error::not_found, "no such path");

  if (req.method() == http::verb::get && poll_path) {
    std::string token, room;
    if (auto it = params.find("token"); it != params.end()) token = (*it).value;
    if (auto it = params.find("room"); it != params.end()) room = (*it).value;
    if (!room.empty() && !rooms_.room_exists(room)) {
      return error_response(req, error::unknown_room, "no such room");
    }
    if (token.empty()) return error_response(req, error::bad_message, "token= is required");
    const std::string* peer = rooms_.peer_for_token(token, now);
    if (peer == nullptr) return error_response(req, error::unknown_peer, "unknown token");
    if (!room.empty() && *rooms_.room_of(*peer) != room) {
      return error_response(req, error::unknown_room, "this token is in another room");
    }
    std::optional<kind> k;
    if (relayed != nullptr) k = relayed->k;
    std::string body = R"({"messages":[)";
    bool first = true;
    for (const auto& m : rooms_.take(*peer, k)) {
      if (!first) body += ',';
      first = false;
      body += *m;
    }
    body += "]}";
    return make_response(req, http::status::ok, std::move(body));
  }
  if (req.method() != http::verb::post || !post_path) {
    return error_response(req, error::method_not_allowed,
                          poll_path ? "GET to poll, POST to send" : "POST only");
  }
  parsed p = parse_object(req.body(), rooms_.limit().max_message);
  if (p.failure) return error_response(req, *p.failure, p.why);
  const auto token = string_member(p.object, "token");
  const auto room = string_member(p.object, "room");
  if (path == "/leave") {
    const std::string* peer = token ? rooms_.peer_for_token(*token, now) : nullptr;
    if (peer == nullptr) return error_response(req, error::unknown_peer, "unknown token");
    rooms_.leave(std::string(*peer));
    return make_response(req, http::status::ok, R"({"left":true})");
  }
  std::optional<rooms::joined> fresh;
  std::string peer;
  if (token) {
    const std::string* found = rooms_.peer_for_token(*token, now);
    if (found == nullptr) return error_response(req, error::unknown_peer, "unknown token");
    if (path == "/join") return error_response(req, error::already_joined, "already in a room");
    if (room && *rooms_.room_of(*found) != *room) {
      return error_response(req, error::unknown_room, "this token is in another room");
    }
    peer = *found;
  }
  // Checked before joining, so a bad message does not leave a peer behind.
  if (relayed != nullptr) {
    const relay_kind rk = check_relayable(p.object, relayed->type);
    if (!rk.k) return error_response(req, error::bad_message, rk.why);
  }
  if (!token) {
    if (!room)
      return error_response(req, error::bad_message, "a \"room\" or a \"token\" is needed");
    auto j = rooms_.join(*room, ip, nullptr, now);
    if (!j.ok) return error_response(req, j.failure, "cannot join this room");
    fresh = std::move(j.ok);
    peer = fresh->peer;
    if (relayed == nullptr) {
      return make_response(req, http::status::ok, joined_json(*room, *fresh, true));
    }
  }
  const auto to = string_member(p.object, "to");
  const auto r =
      rooms_.relay(peer, to, relayed->k, stamp(std::move(p.object), peer, relayed->type));
  if (r.failure) return error_response(req, *r.failure, "no such peer in this room");
  counters_.relayed += r.delivered;
  json::object o;
  o["delivered"] = r.delivered;
  if (fresh) {
    o["peer"] = fresh->peer;
    o["token"] = fresh->token;
    o["peers"] = peer_ids(fresh->others);
  }
  return make_response(req, http::status::ok, json::serialize(o));
}

}  // namespace turnpike::server::signaling
