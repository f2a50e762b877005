// SPDX-License-Identifier: Apache-2.0
// The sessions API's answers without sockets: the key first, then listing with filters,
// ending one or a user's, and clear refusals.
#include "server/metrics/sessions_api.hpp"

#include <gtest/gtest.h>

#include <boost/json.hpp>

namespace turnpike::server::metrics {
namespace {

namespace json = boost::json;
const std::string key = "0123456789abcdef-admin";

class fake_backend final : public sessions_backend {
 public:
  std::vector<row> list(const engine::session_filter& filter, bool& complete) override {
    ++calls;
    last = filter;
    complete = true;
    std::vector<row> out;
    for (const auto& r : rows) {
      if (filter.username && r.info.username != *filter.username) continue;
      out.push_back(r);
    }
    return out;
  }
  std::size_t end(const engine::session_filter& filter, std::optional<std::size_t> shard,
                  bool& complete) override {
    ++calls;
    last = filter;
    last_shard = shard;
    complete = true;
    return ended;
  }
  std::vector<row> rows;
  std::size_t ended = 0;
  int calls = 0;
  engine::session_filter last;
  std::optional<std::size_t> last_shard;
};

http::request<http::string_body> request(http::verb verb, std::string target,
                                         std::optional<std::string> bearer = key) {
  http::request<http::string_body> req{verb, target, 11};
  if (bearer) req.set(http::field::authorization, "Bearer " + *bearer);
  return req;
}

engine::session_info alice() {
  engine::session_info s;
  s.id = 17;
  s.username = "alice";
  s.client = {engine::transport::udp, *protocol::transport_address::parse_ip("192.0.2.1", 3478),
              *protocol::transport_address::parse_ip("198.51.100.7", 40000)};
  s.relayed = {*protocol::transport_address::parse_ip("192.0.2.1", 50000)};
  s.age_seconds = 12;
  s.lifetime_left_seconds = 588;
  s.traffic = {3, 300, 4, 400};
  s.channels = 1;
  return s;
}

TEST(SessionsApi, WrongOrMissingKeyIs401AndListsNothing) {
  fake_backend b;
  b.rows = {{0, alice()}};
  for (const auto& bearer : {std::optional<std::string>{}, std::optional<std::string>{"nope"},
                             std::optional<std::string>{key + "x"}}) {
    const auto res = answer_sessions(request(http::verb::get, "/sessions", bearer), key, "r", b);
    EXPECT_EQ(res.result(), http::status::unauthorized);
    EXPECT_EQ(res.body().find("alice"), std::string::npos);
    EXPECT_NE(res[http::field::www_authenticate], "");
  }
  EXPECT_EQ(
      answer_sessions(request(http::verb::delete_, "/sessions?user=alice", "bad"), key, "r", b)
          .result(),
      http::status::unauthorized);
  EXPECT_EQ(b.calls, 0);  // never reached the server
}

TEST(SessionsApi, ListsAllocationsWithWhatAnOperatorNeeds) {
  fake_backend b;
  auto bob = alice();
  bob.id = 3;
  bob.username = "bob";
  b.rows = {{0, alice()}, {1, bob}};
  const auto res = answer_sessions(request(http::verb::get, "/sessions"), key, "example.org", b);
  ASSERT_EQ(res.result(), http::status::ok);
  EXPECT_EQ(res[http::field::content_type], "application/json");
  const auto doc = json::parse(res.body()).as_object();
  EXPECT_TRUE(doc.at("complete").as_bool());
  const auto& list = doc.at("sessions").as_array();
  ASSERT_EQ(list.size(), 2u);
  const auto& a = list[0].as_object();
  EXPECT_EQ(a.at("id").as_string(), "0-17");
  EXPECT_EQ(a.at("user").as_string(), "alice");
  EXPECT_EQ(a.at("realm").as_string(), "example.org");
  EXPECT_EQ(a.at("client").as_string(), "198.51.100.7:40000");
  EXPECT_EQ(a.at("transport").as_string(), "udp");
  EXPECT_EQ(a.at("relayed").as_array().at(0).as_string(), "192.0.2.1:50000");
  EXPECT_EQ(a.at("age_seconds").to_number<std::int64_t>(), 12);
  EXPECT_EQ(a.at("lifetime_left_seconds").to_number<std::int64_t>(), 588);
  EXPECT_EQ(a.at("to_peer").as_object().at("bytes").to_number<std::uint64_t>(), 300u);
  EXPECT_EQ(a.at("to_client").as_object().at("packets").to_number<std::uint64_t>(), 4u);
  EXPECT_EQ(a.at("shard").to_number<std::uint64_t>(), 0u);
  EXPECT_EQ(list[1].as_object().at("id").as_string(), "1-3");
  // Filters reach the server.
  const auto only = answer_sessions(
      request(http::verb::get, "/sessions?user=al%69ce&client_ip=198.51.100.7"), key, "r", b);
  ASSERT_EQ(only.result(), http::status::ok);
  EXPECT_EQ(b.last.username, "alice");
  EXPECT_EQ(b.last.client_ip->ip_string(), "198.51.100.7");
  EXPECT_EQ(json::parse(only.body()).as_object().at("sessions").as_array().size(), 1u);
  // One by id.
  const auto one = answer_sessions(request(http::verb::get, "/sessions/1-3"), key, "r", b);
  ASSERT_EQ(one.result(), http::status::ok);
  EXPECT_EQ(b.last.id, 3u);
  EXPECT_EQ(json::parse(one.body()).as_object().at("sessions").as_array().size(), 1u);
}

TEST(SessionsApi, EndsOneOrAUsersAllocations) {
  fake_backend b;
  b.ended = 1;
  auto res = answer_sessions(request(http::verb::delete_, "/sessions/0-17"), key, "r", b);
  ASSERT_EQ(res.result(), http::status::ok);
  EXPECT_EQ(b.last.id, 17u);
  EXPECT_EQ(b.last_shard, 0u);
  EXPECT_EQ(json::parse(res.body()).as_object().at("ended").to_number<std::uint64_t>(), 1u);
  b.ended = 3;
  res = answer_sessions(request(http::verb::delete_, "/sessions?user=alice"), key, "r", b);
  ASSERT_EQ(res.result(), http::status::ok);
  EXPECT_EQ(b.last.username, "alice");
  EXPECT_FALSE(b.last_shard);
  EXPECT_EQ(json::parse(res.body()).as_object().at("ended").to_number<std::uint64_t>(), 3u);
  b.ended = 0;
  EXPECT_EQ(answer_sessions(request(http::verb::delete_, "/sessions/0-99"), key, "r", b).result(),
            http::status::not_found);
}

TEST(SessionsApi, RefusesWhatItCannotDoClearly) {
  fake_backend b;
  auto code = [&](http::verb v, const std::string& target) {
    return answer_sessions(request(v, target), key, "r", b).result();
  };
  const int before = b.calls;
  EXPECT_EQ(code(http::verb::delete_, "/sessions"), http::status::bad_request);  // no filter
  EXPECT_EQ(code(http::verb::get, "/sessions?client_ip=nope"), http::status::bad_request);
  EXPECT_EQ(code(http::verb::get, "/sessions?color=red"), http::status::bad_request);
  EXPECT_EQ(code(http::verb::get, "/sessions/17"), http::status::not_found);
  EXPECT_EQ(code(http::verb::get, "/sessions/a-b"), http::status::not_found);
  EXPECT_EQ(code(http::verb::post, "/sessions"), http::status::method_not_allowed);
  EXPECT_EQ(b.calls, before);
  EXPECT_TRUE(is_sessions_path("/sessions"));
  EXPECT_TRUE(is_sessions_path("/sessions/0-1?x"));
  EXPECT_TRUE(is_sessions_path("/sessions?user=a"));
  EXPECT_FALSE(is_sessions_path("/sessionsx"));
  EXPECT_FALSE(is_sessions_path("/metrics"));
}

}  // namespace
}  // namespace turnpike::server::metrics
