// SPDX-License-Identifier: Apache-2.0
// The signaling service in the real binary, driven by Beast clients on loopback: WebSocket
// rooms, HTTP polling, /ice-servers credentials that the TURN side accepts, TLS with a
// certificate made at test time, and every limit (message size, connections per IP, rooms per
// IP, peers per room, idle timeout).
#include <gtest/gtest.h>

#include <map>

#include "support/certs.hpp"
#include "support/http.hpp"
#include "support/process.hpp"
#include "support/signaling_client.hpp"
#include "support/turn_session.hpp"

namespace turnpike::test {
namespace {

using namespace std::chrono_literals;

const std::string api_key = "signaling-test-key-0123456789";

// The server with its signaling service; `extra` adds options.
class signaling_server {
 public:
  explicit signaling_server(std::vector<std::string> extra = {}) {
    std::vector<std::string> argv{TURNPIKE_BINARY,
                                  "-n",
                                  "-L",
                                  "127.0.0.1",
                                  "-p",
                                  "0",
                                  "--relay-threads",
                                  "1",
                                  "-r",
                                  "test",
                                  "--allow-loopback-peers",
                                  "--use-auth-secret",
                                  "--static-auth-secret",
                                  "north",
                                  "--signaling-port",
                                  "0",
                                  "--signaling-address",
                                  "127.0.0.1",
                                  "--signaling-api-key",
                                  api_key};
    argv.insert(argv.end(), extra.begin(), extra.end());
    p = std::make_unique<process>(argv);
    auto sig = p->wait_for(std::regex(R"(signaling on https?://127\.0\.0\.1:(\d+))"));
    if (!sig) throw std::runtime_error("no signaling line: " + p->output());
    port = static_cast<std::uint16_t>(std::stoi((*sig)[1]));
    auto udp = p->wait_for(std::regex(R"(listening udp 127\.0\.0\.1:(\d+))"));
    if (!udp) throw std::runtime_error("no udp line: " + p->output());
    turn_port = static_cast<std::uint16_t>(std::stoi((*udp)[1]));
    if (!p->wait_for(std::regex("iceServers"))) throw std::runtime_error(p->output());
  }
  ~signaling_server() {
    p->signal(SIGTERM);
    const auto rc = p->wait_exit();
    EXPECT_EQ(rc, 0) << p->output();
  }
  std::unique_ptr<process> p;
  std::uint16_t port = 0;
  std::uint16_t turn_port = 0;
};

TEST(SignalingServer, WebSocketRoomRelaysOfferCandidatesAndRestartUntouched) {
  signaling_server srv;
  ws_client a(srv.port), b(srv.port);
  a.send(R"({"type":"join","room":"call-1"})");
  const auto ja = a.read_json();
  ASSERT_EQ(str(ja.at("type")), "joined");
  EXPECT_TRUE(ja.at("peers").as_array().empty());
  b.send(R"({"type":"join","room":"call-1"})");
  const auto jb = b.read_json();
  ASSERT_EQ(jb.at("peers").as_array().size(), 1u);
  EXPECT_EQ(str(a.read_json().at("type")), "peer-joined");

  const std::string sdp = "v=0\r\na=ice-ufrag:one\r\na=ice-pwd:aaaaaaaaaaaaaaaaaaaaaa\r\n";
  b.send(json::serialize(json::object{{"type", "offer"}, {"sdp", sdp}}));
  auto offer = a.read_type("offer");
  EXPECT_EQ(str(offer.at("sdp")), sdp);
  EXPECT_EQ(str(offer.at("from")), str(jb.at("peer")));
  // Trickle: an mDNS host candidate arrives as it was sent.
  const std::string mdns =
      "candidate:3 1 udp 2122260223 d1b2c3a4-0000-4000-8000-123456789abc.local 61234 typ host "
      "generation 0 ufrag one";
  b.send(json::serialize(json::object{
      {"type", "candidate"},
      {"candidate", json::object{{"candidate", mdns}, {"sdpMid", "0"}, {"sdpMLineIndex", 0}}}}));
  auto cand = a.read_type("candidate");
  EXPECT_EQ(str(cand.at("candidate").at("candidate")), mdns);
  a.send(R"({"type":"answer","sdp":"v=0\r\na=ice-ufrag:two\r\n"})");
  EXPECT_EQ(str(b.read_type("answer").at("from")), str(ja.at("peer")));
  // ICE restart: a new offer with new credentials, relayed like the first.
  b.send(R"({"type":"offer","sdp":"v=0\r\na=ice-ufrag:three\r\n"})");
  EXPECT_NE(str(a.read_type("offer").at("sdp")).find("ufrag:three"), std::string::npos);
  // Malformed JSON gets an error and the connection goes on.
  a.send("{not json");
  auto err = a.read_json();
  EXPECT_EQ(str(err.at("type")), "error");
  EXPECT_EQ(str(err.at("error")), "bad-json");
  a.send(R"({"type":"ping"})");
  EXPECT_EQ(str(a.read_json().at("type")), "pong");
  // Binary frames are refused the same way.
  a.stream().binary(true);
  a.stream().write(asio::buffer(std::string("\x01\x02")));
  EXPECT_EQ(str(a.read_json().at("error")), "bad-message");
  // Closing tells the room.
  a.stream().close(websocket::close_code::normal);
  EXPECT_EQ(str(b.read_type("peer-left").at("peer")), str(ja.at("peer")));
}

TEST(SignalingServer, OversizeFrameClosesWith1009AndOversizeBodyIs413) {
  signaling_server srv({"--signaling-max-message", "1024"});
  ws_client c(srv.port);
  c.send(R"({"type":"join","room":"big"})");
  ASSERT_EQ(str(c.read_json().at("type")), "joined");
  c.send(R"({"type":"offer","sdp":")" + std::string(1500, 'x') + "\"}");
  EXPECT_FALSE(c.read());
  EXPECT_EQ(c.error(), websocket::error::closed) << c.error().message();
  EXPECT_EQ(c.reason().code, websocket::close_code::too_big);
  // Just under the limit is fine.
  ws_client d(srv.port);
  d.send(R"({"type":"join","room":"big","pad":")" + std::string(900, 'p') + "\"}");
  EXPECT_EQ(str(d.read_json().at("type")), "joined");
  auto r = http_call(srv.port, bhttp::verb::post, "/join",
                     R"({"room":"big","pad":")" + std::string(5000, 'p') + "\"}");
  EXPECT_EQ(r.status, 413) << r.body;
  EXPECT_EQ(str(parse(r.body).at("error")), "message-too-big");
}

TEST(SignalingServer, HttpClientsPollTheSameRoomsAndUnknownRoomsAre404) {
  signaling_server srv;
  ws_client w(srv.port);
  w.send(R"({"type":"join","room":"mixed"})");
  ASSERT_EQ(str(w.read_json().at("type")), "joined");
  auto joined = http_call(srv.port, bhttp::verb::post, "/join", R"({"room":"mixed"})");
  ASSERT_EQ(joined.status, 200) << joined.body;
  const std::string token = str(parse(joined.body).at("token"));
  EXPECT_EQ(str(w.read_type("peer-joined").at("peer")), str(parse(joined.body).at("peer")));
  auto sent = http_call(srv.port, bhttp::verb::post, "/offer",
                        R"({"token":")" + token + R"(","sdp":"v=0 over http"})");
  ASSERT_EQ(sent.status, 200) << sent.body;
  EXPECT_EQ(str(w.read_type("offer").at("sdp")), "v=0 over http");
  w.send(R"({"type":"answer","sdp":"v=0 over ws"})");
  w.send(
      R"({"type":"candidate","candidate":{"candidate":"candidate:1 1 udp 1 x.local 9 typ host"}})");
  w.send(R"({"type":"ping"})");
  EXPECT_EQ(str(w.read_json().at("type")), "pong");  // both were handled by now
  auto answers = http_call(srv.port, bhttp::verb::get, "/answer?token=" + token);
  ASSERT_EQ(answers.status, 200);
  EXPECT_EQ(str(parse(answers.body).at("messages").as_array().at(0).at("sdp")), "v=0 over ws");
  auto ice = http_call(srv.port, bhttp::verb::get, "/ice?room=mixed&token=" + token);
  EXPECT_EQ(str(parse(ice.body).at("messages").as_array().at(0).at("candidate").at("candidate")),
            "candidate:1 1 udp 1 x.local 9 typ host");
  auto unknown = http_call(srv.port, bhttp::verb::get, "/offer?room=no-such-room&token=" + token);
  EXPECT_EQ(unknown.status, 404);
  EXPECT_EQ(str(parse(unknown.body).at("error")), "unknown-room");
  auto bad = http_call(srv.port, bhttp::verb::post, "/offer", "[]");
  EXPECT_EQ(bad.status, 400);
  EXPECT_EQ(str(parse(bad.body).at("error")), "bad-json");
}

TEST(SignalingServer, IceServersNeedsTheKeyAndItsCredentialsAllocate) {
  signaling_server srv;
  auto refused = http_call(srv.port, bhttp::verb::get, "/ice-servers?user=alice");
  EXPECT_EQ(refused.status, 401);
  EXPECT_EQ(http_call(srv.port, bhttp::verb::get, "/ice-servers?user=alice", "", "wrong").status,
            401);
  auto ok = http_call(srv.port, bhttp::verb::get, "/ice-servers?user=alice", "", api_key);
  ASSERT_EQ(ok.status, 200) << ok.body;
  const auto o = parse(ok.body);
  EXPECT_EQ(o.at("ttl").as_int64(), 86400);
  const auto& server = o.at("iceServers").as_array().at(0).as_object();
  std::vector<std::string> urls;
  for (const auto& u : server.at("urls").as_array()) urls.push_back(str(u));
  const std::string where = "127.0.0.1:" + std::to_string(srv.turn_port);
  EXPECT_NE(std::find(urls.begin(), urls.end(), "turn:" + where + "?transport=udp"), urls.end())
      << ok.body;
  const std::string username = str(server.at("username"));
  EXPECT_NE(username.find(":alice"), std::string::npos);
  // The TURN side accepts these credentials; a changed password is refused.
  turn_session good(SOCK_DGRAM, *protocol::transport_address::parse_ip("127.0.0.1", srv.turn_port),
                    username, str(server.at("credential")));
  EXPECT_EQ(good.allocate().code, 0);
  turn_session bad(SOCK_DGRAM, *protocol::transport_address::parse_ip("127.0.0.1", srv.turn_port),
                   username, str(server.at("credential")) + "x");
  EXPECT_EQ(bad.allocate().code, 401);
}

TEST(SignalingServer, TlsServesHttpsAndWssWithATestCertificateAndPlainStillWorks) {
  const auto cert = make_test_certificate();
  signaling_server srv({"--cert", cert.cert, "--pkey", cert.key});
  asio::ssl::context ctx(asio::ssl::context::tls_client);
  ctx.load_verify_file(cert.cert);
  ctx.set_verify_mode(asio::ssl::verify_peer);
  auto ok =
      http_call<tls_stream>(srv.port, bhttp::verb::get, "/ice-servers?user=tls", "", api_key, &ctx);
  ASSERT_EQ(ok.status, 200) << ok.body;
  EXPECT_NE(ok.body.find("turns:127.0.0.1:"), std::string::npos) << ok.body;
  ws_client<tls_stream> a(srv.port, &ctx);
  ws_client<> b(srv.port);  // plain WebSocket on the same port
  a.send(R"({"type":"join","room":"secure"})");
  ASSERT_EQ(str(a.read_json().at("type")), "joined");
  b.send(R"({"type":"join","room":"secure"})");
  ASSERT_EQ(str(b.read_json().at("type")), "joined");
  b.send(R"({"type":"offer","sdp":"v=0 tls"})");
  EXPECT_EQ(str(a.read_type("offer").at("sdp")), "v=0 tls");
  EXPECT_EQ(http_call(srv.port, bhttp::verb::get, "/").status, 200);
}

TEST(SignalingServer, ConnectionsPerIpAreCapped) {
  signaling_server srv({"--signaling-connections-per-ip", "3"});
  std::vector<std::unique_ptr<ws_client<>>> open;
  for (int i = 0; i < 3; ++i) open.push_back(std::make_unique<ws_client<>>(srv.port));
  // The fourth is closed at once: no answer to a request.
  EXPECT_EQ(http_call(srv.port, bhttp::verb::get, "/").status, 0);
  open.pop_back();
  // The server notices the close, then there is room again.
  int status = 0;
  for (int i = 0; i < 50 && status == 0; ++i) {
    status = http_call(srv.port, bhttp::verb::get, "/").status;
    if (status == 0) std::this_thread::sleep_for(20ms);
  }
  EXPECT_EQ(status, 200);
}

TEST(SignalingServer, RoomsPerIpAndPeersPerRoomLimits) {
  signaling_server srv({"--signaling-rooms-per-ip", "2", "--signaling-peers-per-room", "2"});
  ws_client a(srv.port), b(srv.port), c(srv.port), d(srv.port);
  a.send(R"({"type":"join","room":"r1"})");
  EXPECT_EQ(str(a.read_json().at("type")), "joined");
  b.send(R"({"type":"join","room":"r1"})");
  EXPECT_EQ(str(b.read_json().at("type")), "joined");
  c.send(R"({"type":"join","room":"r1"})");
  EXPECT_EQ(str(c.read_json().at("error")), "room-full");
  c.send(R"({"type":"join","room":"r2"})");
  EXPECT_EQ(str(c.read_json().at("type")), "joined");
  d.send(R"({"type":"join","room":"r3"})");
  EXPECT_EQ(str(d.read_json().at("error")), "too-many-rooms");
  auto http = http_call(srv.port, bhttp::verb::post, "/join", R"({"room":"r4"})");
  EXPECT_EQ(http.status, 429);
}

TEST(SignalingServer, SilentConnectionsAreClosedAfterTheIdleTimeout) {
  signaling_server srv({"--signaling-idle-timeout", "2"});
  // A WebSocket that stops reading never answers the server's pings.
  ws_client quiet(srv.port), watcher(srv.port);
  quiet.send(R"({"type":"join","room":"idle"})");
  ASSERT_EQ(str(quiet.read_json().at("type")), "joined");
  watcher.send(R"({"type":"join","room":"idle"})");
  ASSERT_EQ(str(watcher.read_json().at("type")), "joined");
  // The watcher keeps reading (so it answers pings) and sees the quiet one dropped, after
  // the 2 s timeout and within a few seconds.
  const auto joined_at = std::chrono::steady_clock::now();
  std::optional<std::string> left;
  while (!left && std::chrono::steady_clock::now() - joined_at < 8s) {
    auto m = watcher.read(8s);
    ASSERT_TRUE(m) << watcher.error().message();
    if (str(parse(*m).at("type")) == "peer-left") left = m;
  }
  ASSERT_TRUE(left);
  const auto quiet_for = std::chrono::steady_clock::now() - joined_at;
  EXPECT_GE(quiet_for, 1900ms);
  EXPECT_LT(quiet_for, 5s);
  // The watcher, which answered the pings, is still there.
  watcher.send(R"({"type":"ping"})");
  EXPECT_EQ(str(watcher.read_json().at("type")), "pong");
  // A connection that never sends a request is closed too.
  const auto t0 = std::chrono::steady_clock::now();
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(srv.port);
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa), 0);
  pollfd p{fd, POLLIN, 0};
  ASSERT_EQ(::poll(&p, 1, 6000), 1);
  char byte;
  EXPECT_LE(::recv(fd, &byte, 1, 0), 0);  // closed by the server
  ::close(fd);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 4s);
}

// A server with Prometheus metrics on a port of its own, and that port (0 when it never said).
const std::vector<std::string> with_metrics{"--prometheus", "--prometheus-port", "0",
                                            "--prometheus-address", "127.0.0.1"};
std::uint16_t metrics_port_of(signaling_server& srv) {
  const auto m = srv.p->wait_for(std::regex(R"(metrics on http://127\.0\.0\.1:(\d+))"));
  return m ? static_cast<std::uint16_t>(std::stoi((*m)[1])) : 0;
}

// Guessing API keys as an attacker would, 3 000 of them on one keep-alive connection: ten
// get 401, the rest 429 with Retry-After, unread; the metrics count both and the log says so
// (one line, not one per guess).
TEST(SignalingServer, WrongApiKeysAreThrottledCountedAndLogged) {
  signaling_server srv(with_metrics);
  const auto metrics_port = metrics_port_of(srv);
  ASSERT_NE(metrics_port, 0);
  const auto logged_from = srv.p->line_count();
  asio::io_context io;
  beast::tcp_stream s(io);
  s.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), srv.port));
  beast::flat_buffer buf;
  std::map<unsigned, int> statuses;
  std::string retry_after;
  for (int i = 0; i < 3000; ++i) {
    bhttp::request<bhttp::string_body> req{bhttp::verb::get, "/ice-servers?user=alice", 11};
    req.set(bhttp::field::host, "127.0.0.1");
    req.set(bhttp::field::authorization, "Bearer guess" + std::to_string(i));
    req.keep_alive(true);
    bhttp::write(s, req);
    bhttp::response<bhttp::string_body> res;
    bhttp::read(s, buf, res);
    ++statuses[res.result_int()];
    if (res.result_int() == 429) retry_after = std::string(res[bhttp::field::retry_after]);
  }
  EXPECT_EQ(statuses[401], 10);
  EXPECT_EQ(statuses[429], 2990);
  EXPECT_FALSE(retry_after.empty());
  EXPECT_TRUE(srv.p->wait_for(
      std::regex(R"(signaling: \d+ wrong API key\(s\), \d+ request\(s\) refused unread)"), 5s,
      logged_from))
      << srv.p->output();
  for (int i = 0; i < 40; ++i) {  // the counters are refreshed every second
    const auto text = http_get(metrics_port, "/metrics").body;
    if (metric_value(text, "turnpike_signaling_credentials_throttled_total") == 2990) {
      EXPECT_EQ(metric_value(text, "turnpike_signaling_credentials_refused_total"), 10);
      return;
    }
    std::this_thread::sleep_for(100ms);
  }
  ADD_FAILURE() << "turnpike_signaling_credentials_throttled_total never reached 2990";
}

TEST(SignalingServer, MetricsCountSignaling) {
  signaling_server srv(with_metrics);
  const auto metrics_port = metrics_port_of(srv);
  ASSERT_NE(metrics_port, 0);
  ws_client a(srv.port), b(srv.port);
  a.send(R"({"type":"join","room":"m"})");
  a.read_json();
  b.send(R"({"type":"join","room":"m"})");
  b.read_json();
  b.send(R"({"type":"offer","sdp":"x"})");
  a.read_type("offer");
  http_call(srv.port, bhttp::verb::get, "/ice-servers", "", api_key);
  http_call(srv.port, bhttp::verb::get, "/ice-servers", "", "wrong");
  double peers = -1, relayed = -1;
  for (int i = 0; i < 40; ++i) {  // the gauges are refreshed every second
    const auto text = http_get(metrics_port, "/metrics").body;
    peers = metric_value(text, "turnpike_signaling_peers");
    relayed = metric_value(text, "turnpike_signaling_relayed_total");
    if (peers == 2 && relayed >= 1 &&
        metric_value(text, "turnpike_signaling_credentials_refused_total") == 1) {
      EXPECT_EQ(metric_value(text, "turnpike_signaling_credentials_issued_total"), 1);
      EXPECT_EQ(metric_value(text, "turnpike_signaling_websockets"), 2);
      return;
    }
    std::this_thread::sleep_for(100ms);
  }
  ADD_FAILURE() << "peers " << peers << " relayed " << relayed;
}

}  // namespace
}  // namespace turnpike::test
