// SPDX-License-Identifier: Apache-2.0
// The signaling service without sockets: WebSocket messages, the HTTP API and /ice-servers.
#include "server/signaling/service.hpp"

#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "auth/rest_secrets.hpp"

namespace turnpike::server::signaling {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;

struct recorder final : peer_link {
  void deliver(const text& m) override { got.push_back(*m); }
  std::vector<std::string> got;
};

const clock::time_point t0{};
constexpr std::int64_t unix_t0 = 1800000000;
const std::string api_key = "0123456789abcdef-key";

ice_settings ice() {
  ice_settings s;
  s.api_key = api_key;
  s.secret = "north";
  s.ttl = 3600;
  s.urls = {"stun:192.0.2.1:3478", "turn:192.0.2.1:3478?transport=udp"};
  return s;
}

json::object parse(const std::string& s) {
  return json::parse(s).as_object();
}

std::string error_of(const std::string& answer) {
  const auto o = parse(answer);
  return o.contains("error") ? std::string(o.at("error").as_string()) : std::string();
}

request make_request(http::verb v, std::string target, std::string body = "") {
  request r{v, target, 11};
  r.set(http::field::host, "127.0.0.1");
  r.body() = std::move(body);
  r.prepare_payload();
  return r;
}

class Signaling : public ::testing::Test {
 protected:
  service svc{limits{}, ice(), true};
  recorder la, lb;
  service::connection a{"10.0.0.1", {}}, b{"10.0.0.2", {}};

  std::string ws(service::connection& c, recorder& l, const std::string& m) {
    return svc.on_ws_message(c, l, m, t0);
  }
  response get(const std::string& target, const std::string& ip = "10.0.0.9") {
    return svc.on_http(make_request(http::verb::get, target), ip, t0, unix_t0);
  }
  response post(const std::string& target, const std::string& body,
                const std::string& ip = "10.0.0.9") {
    return svc.on_http(make_request(http::verb::post, target, body), ip, t0, unix_t0);
  }
  void join_both(const std::string& room = "call") {
    ASSERT_EQ(parse(ws(a, la, R"({"type":"join","room":")" + room + "\"}")).at("type"), "joined");
    ASSERT_EQ(parse(ws(b, lb, R"({"type":"join","room":")" + room + "\"}")).at("type"), "joined");
    la.got.clear();
  }
};

TEST_F(Signaling, OfferAnswerAndTrickleCandidatesReachTheOtherPeerUntouched) {
  join_both();
  const std::string sdp = "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\na=ice-ufrag:abcd\r\n";
  EXPECT_EQ(ws(b, lb, json::serialize(json::object{{"type", "offer"}, {"sdp", sdp}})), "");
  ASSERT_EQ(la.got.size(), 1u);
  auto got = parse(la.got[0]);
  EXPECT_EQ(got.at("type"), "offer");
  EXPECT_EQ(got.at("sdp"), json::value(sdp));
  EXPECT_EQ(got.at("from"), json::value(*b.peer));
  // An mDNS candidate and extra members are forwarded as given.
  const std::string cand =
      "candidate:1 1 udp 2122260223 4f1e2b3c-9a8d-4e7f-8c6b-1a2b3c4d5e6f.local 54321 typ host";
  ws(b, lb,
     R"({"type":"candidate","candidate":{"candidate":")" + cand +
         R"(","sdpMid":"0","sdpMLineIndex":0,"usernameFragment":"abcd"},"app":{"x":1}})");
  got = parse(la.got.back());
  EXPECT_EQ(got.at("candidate").at("candidate"), json::value(cand));
  EXPECT_EQ(got.at("candidate").at("usernameFragment"), "abcd");
  EXPECT_EQ(got.at("app").at("x"), 1);
  // End of candidates (null) is relayed too.
  ws(b, lb, R"({"type":"candidate","candidate":null})");
  EXPECT_TRUE(parse(la.got.back()).at("candidate").is_null());
  // An ICE restart is just another offer, with new credentials.
  ws(b, lb, R"({"type":"offer","sdp":"v=0\r\na=ice-ufrag:efgh\r\n"})");
  EXPECT_NE(std::string(parse(la.got.back()).at("sdp").as_string()).find("efgh"),
            std::string::npos);
  // A sender cannot forge "from" or route with "room"/"token".
  ws(a, la, R"({"type":"answer","sdp":"x","from":"forged","room":"other","token":"t"})");
  got = parse(lb.got.back());
  EXPECT_EQ(got.at("from"), json::value(*a.peer));
  EXPECT_FALSE(got.contains("room"));
  EXPECT_FALSE(got.contains("token"));
}

TEST_F(Signaling, MalformedJsonGetsAClearErrorAndTheConnectionGoesOn) {
  for (const std::string& bad :
       std::vector<std::string>{"", "{", "not json", "[1,2]", "\"s\"", "null", "{\"type\":1}",
                                std::string(40, '[') + std::string(40, ']'), "{\"a\":\"\xff\"}"}) {
    const auto answer = ws(a, la, bad);
    ASSERT_FALSE(answer.empty()) << bad;
    const auto e = error_of(answer);
    EXPECT_TRUE(e == "bad-json" || e == "bad-message") << bad << " -> " << answer;
    EXPECT_FALSE(parse(answer).at("message").as_string().empty());
  }
  EXPECT_EQ(error_of(ws(a, la, R"({"type":"dance"})")), "bad-message");
  EXPECT_EQ(error_of(ws(a, la, R"({"type":"offer","sdp":"x"})")), "not-joined");
  EXPECT_EQ(error_of(ws(a, la, R"({"type":"join"})")), "bad-message");
  EXPECT_EQ(error_of(ws(a, la, R"({"type":"join","room":"no spaces"})")), "bad-room");
  join_both();
  EXPECT_EQ(error_of(ws(a, la, R"({"type":"offer"})")), "bad-message");
  EXPECT_EQ(error_of(ws(a, la, R"({"type":"offer","sdp":""})")), "bad-message");
  EXPECT_EQ(error_of(ws(a, la, R"({"type":"candidate"})")), "bad-message");
  EXPECT_EQ(error_of(ws(a, la, R"({"type":"offer","sdp":"x","to":5})")), "bad-message");
  EXPECT_EQ(error_of(ws(a, la, R"({"type":"offer","sdp":"x","to":"nobody"})")), "unknown-peer");
  EXPECT_EQ(error_of(ws(a, la, R"({"type":"join","room":"again"})")), "already-joined");
  EXPECT_EQ(ws(a, la, R"({"type":"ping"})"), R"({"type":"pong"})");
  EXPECT_TRUE(lb.got.empty());  // nothing malformed was relayed
  EXPECT_GE(svc.counters().refused, 15u);
}

TEST_F(Signaling, OversizeMessageIsRefused) {
  service small(limits{.max_message = 1024}, ice(), true);
  service::connection c{"10.0.0.1", {}};
  recorder l;
  const std::string big = R"({"type":"join","room":"x","pad":")" + std::string(2000, 'p') + "\"}";
  EXPECT_EQ(error_of(small.on_ws_message(c, l, big, t0)), "message-too-big");
  EXPECT_FALSE(c.peer);
}

TEST_F(Signaling, LeavingAndClosingTellTheRoom) {
  join_both();
  EXPECT_EQ(ws(b, lb, R"({"type":"leave"})"), R"({"type":"left"})");
  EXPECT_EQ(parse(la.got.back()).at("type"), "peer-left");
  EXPECT_EQ(error_of(ws(b, lb, R"({"type":"leave"})")), "not-joined");
  svc.on_ws_closed(a);
  EXPECT_EQ(svc.registry().counts().peers, 0u);
}

TEST_F(Signaling, HttpPeersUseTheSameRoomsAsWebSockets) {
  ws(a, la, R"({"type":"join","room":"mixed"})");
  auto joined = post("/join", R"({"room":"mixed"})");
  ASSERT_EQ(joined.result(), http::status::ok) << joined.body();
  const auto j = parse(joined.body());
  const std::string token(j.at("token").as_string());
  const std::string peer(j.at("peer").as_string());
  EXPECT_EQ(j.at("peers").as_array().size(), 1u);
  EXPECT_EQ(parse(la.got.back()).at("type"), "peer-joined");
  EXPECT_EQ(joined[http::field::access_control_allow_origin], "*");
  // HTTP -> WebSocket
  auto sent = post("/offer", R"({"token":")" + token + R"(","sdp":"v=0 http"})");
  ASSERT_EQ(sent.result(), http::status::ok) << sent.body();
  EXPECT_EQ(parse(sent.body()).at("delivered"), 1);
  EXPECT_EQ(parse(la.got.back()).at("from"), json::value(peer));
  EXPECT_FALSE(parse(la.got.back()).contains("token"));  // never leaks to the room
  // WebSocket -> HTTP, polled by kind
  ws(a, la, R"({"type":"answer","sdp":"v=0 ws"})");
  ws(a, la, R"({"type":"candidate","candidate":{"candidate":"c1"}})");
  auto offers = get("/offer?token=" + token);
  EXPECT_TRUE(parse(offers.body()).at("messages").as_array().empty());
  auto answers = get("/answer?token=" + token);
  ASSERT_EQ(answers.result(), http::status::ok);
  const auto answered = parse(answers.body());
  const auto& list = answered.at("messages").as_array();
  ASSERT_EQ(list.size(), 1u);
  EXPECT_EQ(list[0].at("sdp"), "v=0 ws");
  auto ice_list = get("/ice?token=" + token + "&room=mixed");
  EXPECT_EQ(parse(ice_list.body()).at("messages").as_array().size(), 1u);
  EXPECT_TRUE(parse(get("/events?token=" + token).body()).at("messages").as_array().empty());
  // Leaving
  EXPECT_EQ(post("/leave", R"({"token":")" + token + "\"}").result(), http::status::ok);
  EXPECT_EQ(get("/offer?token=" + token).result(), http::status::not_found);
  EXPECT_EQ(parse(la.got.back()).at("type"), "peer-left");
}

TEST_F(Signaling, PostingWithoutATokenJoinsFirst) {
  auto first = post("/offer", R"({"room":"implicit","sdp":"v=0"})");
  ASSERT_EQ(first.result(), http::status::ok) << first.body();
  const auto o = parse(first.body());
  EXPECT_EQ(o.at("delivered"), 0);
  EXPECT_EQ(o.at("token").as_string().size(), 32u);
  // A bad message does not leave a peer behind.
  EXPECT_EQ(post("/offer", R"({"room":"other","sdp":""})").result(), http::status::bad_request);
  EXPECT_FALSE(svc.registry().room_exists("other"));
}

TEST_F(Signaling, HttpErrorsCarryTheRightStatus) {
  EXPECT_EQ(post("/join", "{oops").result(), http::status::bad_request);
  EXPECT_EQ(error_of(post("/join", "{oops").body()), "bad-json");
  EXPECT_EQ(post("/join", R"({"room":"a b"})").result(), http::status::bad_request);
  EXPECT_EQ(post("/offer", R"({"sdp":"x"})").result(), http::status::bad_request);
  EXPECT_EQ(post("/offer", R"({"token":"nope","sdp":"x"})").result(), http::status::not_found);
  EXPECT_EQ(get("/offer").result(), http::status::bad_request);
  EXPECT_EQ(get("/offer?token=nope").result(), http::status::not_found);
  // Unknown room
  auto unknown = get("/offer?room=nowhere&token=nope");
  EXPECT_EQ(unknown.result(), http::status::not_found);
  EXPECT_EQ(error_of(unknown.body()), "unknown-room");
  EXPECT_EQ(get("/nothing-here").result(), http::status::not_found);
  EXPECT_EQ(post("/ice-servers", "").result(), http::status::method_not_allowed);
  EXPECT_EQ(svc.on_http(make_request(http::verb::put, "/offer"), "ip", t0, unix_t0).result(),
            http::status::method_not_allowed);
  EXPECT_EQ(get("/ws").result(), http::status::upgrade_required);
  // A token is only good in its own room.
  const auto token =
      std::string(parse(post("/join", R"({"room":"r1"})").body()).at("token").as_string());
  post("/join", R"({"room":"r2"})");
  EXPECT_EQ(get("/offer?room=r2&token=" + token).result(), http::status::not_found);
  EXPECT_EQ(post("/join", R"({"room":"r1","token":")" + token + "\"}").result(),
            http::status::conflict);
  auto preflight = svc.on_http(make_request(http::verb::options, "/offer"), "ip", t0, unix_t0);
  EXPECT_EQ(preflight.result(), http::status::no_content);
  EXPECT_NE(std::string(preflight[http::field::access_control_allow_headers]).find("Authorization"),
            std::string::npos);
}

TEST_F(Signaling, HttpRoomLimitsHaveTheirStatuses) {
  service strict(limits{.peers_per_room = 2, .rooms_per_ip = 1}, ice(), true);
  auto post_to = [&](const std::string& body, const std::string& ip) {
    return strict.on_http(make_request(http::verb::post, "/join", body), ip, t0, unix_t0);
  };
  EXPECT_EQ(post_to(R"({"room":"a"})", "1.1.1.1").result(), http::status::ok);
  EXPECT_EQ(post_to(R"({"room":"b"})", "1.1.1.1").result(), http::status::too_many_requests);
  EXPECT_EQ(post_to(R"({"room":"a"})", "2.2.2.2").result(), http::status::ok);
  const auto full = post_to(R"({"room":"a"})", "3.3.3.3");
  EXPECT_EQ(full.result(), http::status::conflict);
  EXPECT_EQ(error_of(full.body()), "room-full");
}

// 3 000 wrong keys on one connection, as an attacker would: the first ten get 401, the rest
// 429 with Retry-After and are not looked at (even the right key from that source waits);
// another source is untouched, and the source gets one try again a refill later.
TEST_F(Signaling, WrongKeysAreThrottledPerSource) {
  auto ask = [&](const std::string& key, const std::string& ip, clock::time_point at) {
    auto req = make_request(http::verb::get, "/ice-servers?user=alice");
    req.set(http::field::authorization, "Bearer " + key);
    return svc.on_http(req, ip, at, unix_t0);
  };
  int unauthorized = 0;
  int throttled = 0;
  for (int i = 0; i < 3000; ++i) {
    const auto res = ask("guess" + std::to_string(i), "203.0.113.5", t0);
    if (res.result() == http::status::unauthorized) ++unauthorized;
    if (res.result() == http::status::too_many_requests) {
      ++throttled;
      EXPECT_EQ(res[http::field::retry_after], "6");
      EXPECT_EQ(error_of(res.body()), "throttled");
    }
  }
  EXPECT_EQ(unauthorized, 10);
  EXPECT_EQ(throttled, 2990);
  EXPECT_EQ(svc.counters().credentials_refused, 10u);
  EXPECT_EQ(svc.counters().credentials_throttled, 2990u);
  EXPECT_EQ(ask(api_key, "203.0.113.5", t0).result(), http::status::too_many_requests);
  EXPECT_EQ(ask(api_key, "203.0.113.6", t0).result(), http::status::ok);
  EXPECT_EQ(ask(api_key, "203.0.113.5", t0 + std::chrono::seconds(6)).result(), http::status::ok);
}

TEST_F(Signaling, IceServersNeedsTheBearerKeyAndSignsWorkingCredentials) {
  auto no_key = get("/ice-servers?user=alice");
  EXPECT_EQ(no_key.result(), http::status::unauthorized);
  EXPECT_NE(std::string(no_key[http::field::www_authenticate]).find("Bearer"), std::string::npos);
  for (const std::string& wrong :
       std::vector<std::string>{"Bearer nope", "Bearer " + api_key + "x", "Basic " + api_key,
                                "Bearer " + api_key.substr(1), "bearer"}) {
    auto req = make_request(http::verb::get, "/ice-servers?user=alice");
    req.set(http::field::authorization, wrong);
    EXPECT_EQ(svc.on_http(req, "ip", t0, unix_t0).result(), http::status::unauthorized) << wrong;
  }
  auto req = make_request(http::verb::get, "/ice-servers?user=alice%40example.org");
  req.set(http::field::authorization, "Bearer " + api_key);
  auto res = svc.on_http(req, "ip", t0, unix_t0);
  ASSERT_EQ(res.result(), http::status::ok) << res.body();
  EXPECT_EQ(res[http::field::cache_control], "no-store");
  const auto o = parse(res.body());
  EXPECT_EQ(o.at("ttl"), 3600);
  const auto& server = o.at("iceServers").as_array().at(0).as_object();
  EXPECT_EQ(server.at("urls").as_array().size(), 2u);
  const std::string username(server.at("username").as_string());
  EXPECT_EQ(username, std::to_string(unix_t0 + 3600) + ":alice@example.org");
  EXPECT_EQ(server.at("credential"),
            json::value(auth::rest_secrets::password_for("north", username)));
  // The key source the TURN side uses accepts exactly this username until it expires.
  auth::rest_secrets rest({"north"}, "realm");
  bool found = false;
  rest.find_key(username, "realm", unix_t0 + 10,
                [&](const auth::lookup_result& r) { found = !r.keys.empty(); });
  EXPECT_TRUE(found);
  EXPECT_EQ(svc.counters().credentials_issued, 1u);
  EXPECT_EQ(svc.counters().credentials_refused, 6u);
  // A control character in the user name is refused; no user gives "expiry" alone.
  auto bad = make_request(http::verb::get, "/ice-servers?user=a%0Ab");
  bad.set(http::field::authorization, "Bearer " + api_key);
  EXPECT_EQ(svc.on_http(bad, "ip", t0, unix_t0).result(), http::status::bad_request);
  auto latin1 = make_request(http::verb::get, "/ice-servers?user=caf%E9");
  latin1.set(http::field::authorization, "Bearer " + api_key);
  EXPECT_EQ(svc.on_http(latin1, "ip", t0, unix_t0).result(), http::status::bad_request);
  auto utf8 = make_request(http::verb::get, "/ice-servers?user=caf%C3%A9%20%22q%22");
  utf8.set(http::field::authorization, "Bearer " + api_key);
  const auto named = svc.on_http(utf8, "ip", t0, unix_t0);
  ASSERT_EQ(named.result(), http::status::ok);
  EXPECT_EQ(parse(named.body()).at("iceServers").as_array()[0].at("username"),
            json::value(std::to_string(unix_t0 + 3600) + ":caf\xc3\xa9 \"q\""));
  auto anon = make_request(http::verb::get, "/ice-servers");
  anon.set(http::field::authorization, "Bearer " + api_key);
  EXPECT_EQ(parse(svc.on_http(anon, "ip", t0, unix_t0).body())
                .at("iceServers")
                .as_array()[0]
                .at("username"),
            json::value(std::to_string(unix_t0 + 3600)));
}

TEST_F(Signaling, IceServersIsOffWithoutAKey) {
  service off(limits{}, ice_settings{}, false);
  auto req = make_request(http::verb::get, "/ice-servers");
  req.set(http::field::authorization, "Bearer anything");
  EXPECT_EQ(off.on_http(req, "ip", t0, unix_t0).result(), http::status::not_found);
  // Without the demo, / says what it is.
  auto root = off.on_http(make_request(http::verb::get, "/"), "ip", t0, unix_t0);
  EXPECT_EQ(root.body(), "Turnpike signaling\n");
}

TEST_F(Signaling, DemoPageAndScriptAreServed) {
  auto page = get("/");
  EXPECT_EQ(page.result(), http::status::ok);
  EXPECT_NE(page.body().find("<script src=\"/demo.js\">"), std::string::npos);
  EXPECT_NE(std::string(page[http::field::content_type]).find("text/html"), std::string::npos);
  EXPECT_FALSE(std::string(page["Content-Security-Policy"]).empty());
  auto script = get("/demo.js");
  EXPECT_NE(script.body().find("iceTransportPolicy: 'relay'"), std::string::npos);
}

TEST_F(Signaling, UnpolledHttpPeersExpireOnTick) {
  limits l;
  l.idle = 5s;
  service s(l, ice(), true);
  const auto j =
      parse(s.on_http(make_request(http::verb::post, "/join", R"({"room":"x"})"), "ip", t0, unix_t0)
                .body());
  s.tick(t0 + 4s);
  EXPECT_EQ(s.registry().counts().peers, 1u);
  s.tick(t0 + 6s);
  EXPECT_EQ(s.registry().counts().peers, 0u);
}

}  // namespace
}  // namespace turnpike::server::signaling
