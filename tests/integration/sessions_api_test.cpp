// SPDX-License-Identifier: Apache-2.0
// The sessions API of the real binary, driven by turnpike-admin: it lists what a running
// turnutils_uclient holds and `kill` ends it at once; a client told so gets 437 on its next
// request; a wrong key lists nothing.
#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "support/http.hpp"
#include "support/process.hpp"
#include "support/stun_client.hpp"
#include "support/turn_session.hpp"

namespace turnpike::test {
namespace {

using namespace std::chrono_literals;
namespace json = boost::json;

const std::string key = "sessions-test-admin-key-0123";

class SessionsApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = std::make_unique<process>(std::vector<std::string>{TURNPIKE_BINARY,
                                                                 "-n",
                                                                 "-L",
                                                                 "127.0.0.1",
                                                                 "-p",
                                                                 "0",
                                                                 "-r",
                                                                 "sessions.test",
                                                                 "-u",
                                                                 "alice:secret",
                                                                 "-u",
                                                                 "u:p",
                                                                 "--allow-loopback-peers",
                                                                 "--relay-threads",
                                                                 "2",
                                                                 "--prometheus",
                                                                 "--prometheus-address",
                                                                 "127.0.0.1",
                                                                 "--prometheus-port",
                                                                 "0",
                                                                 "--admin-api-key",
                                                                 key});
    const auto udp = server_->wait_for(std::regex(R"(listening udp 127\.0\.0\.1:(\d+))"));
    const auto metrics = server_->wait_for(std::regex(R"(metrics on http://127\.0\.0\.1:(\d+)/)"));
    ASSERT_TRUE(udp && metrics) << server_->output();
    ASSERT_TRUE(server_->wait_for(std::regex("sessions API on http://127\\.0\\.0\\.1:\\d+/")))
        << server_->output();
    port_ = static_cast<std::uint16_t>(std::stoi((*udp)[1].str()));
    metrics_port_ = static_cast<std::uint16_t>(std::stoi((*metrics)[1].str()));
  }
  void TearDown() override {
    server_->signal(SIGTERM);
    EXPECT_EQ(server_->wait_exit(), 0) << server_->output();
  }
  // turnpike-admin with `args` after the subcommand; the key from the environment unless
  // `with_key` names one on the command line.
  std::pair<int, std::string> admin(const std::string& command, std::vector<std::string> args,
                                    std::optional<std::string> with_key = std::nullopt) {
    std::vector<std::string> argv{"/usr/bin/env",
                                  "TURNPIKE_ADMIN_API_KEY=" + key,
                                  TURNPIKE_ADMIN_BINARY,
                                  command,
                                  "--api",
                                  "http://127.0.0.1:" + std::to_string(metrics_port_)};
    if (with_key) argv.insert(argv.end(), {"--api-key", *with_key});
    argv.insert(argv.end(), args.begin(), args.end());
    process p(argv);
    const auto rc = p.wait_exit(20s);
    return {rc.value_or(-1), p.output()};
  }
  json::array sessions(std::vector<std::string> filter = {}) {
    filter.push_back("--json");
    const auto [rc, out] = admin("sessions", filter);
    EXPECT_EQ(rc, 0) << out;
    return json::parse(out).as_object().at("sessions").as_array();
  }
  protocol::transport_address server() const {
    return *protocol::transport_address::parse_ip("127.0.0.1", port_);
  }

  std::unique_ptr<process> server_;
  std::uint16_t port_ = 0;
  std::uint16_t metrics_port_ = 0;
};

TEST_F(SessionsApiTest, ListsARunningUclientAndKillEndsIt) {
  // Client to client without RTCP, slowly enough to be looked at: uclient's probe allocation
  // and one for each of the two clients, all of user u.
  process uclient({"turnutils_uclient", "-y", "-c", "-m", "1", "-n", "2000", "-l", "170", "-u", "u",
                   "-w", "p", "-p", std::to_string(port_), "127.0.0.1"});
  json::array seen;
  const auto deadline = std::chrono::steady_clock::now() + 20s;
  while (seen.size() < 3 && std::chrono::steady_clock::now() < deadline) {
    seen = sessions({"--user", "u"});
    if (seen.size() < 3) std::this_thread::sleep_for(100ms);
  }
  ASSERT_EQ(seen.size(), 3u) << uclient.output();
  for (const auto& v : seen) {
    const auto& s = v.as_object();
    EXPECT_EQ(s.at("user").as_string(), "u");
    EXPECT_EQ(s.at("realm").as_string(), "sessions.test");
    EXPECT_EQ(s.at("transport").as_string(), "udp");
    EXPECT_TRUE(std::string(s.at("client").as_string()).starts_with("127.0.0.1:"));
    EXPECT_EQ(s.at("relayed").as_array().size(), 1u);
    EXPECT_GT(s.at("lifetime_left_seconds").to_number<std::int64_t>(), 0);
  }
  // The table shows them too.
  const auto [rc, table] = admin("sessions", {});
  EXPECT_EQ(rc, 0) << table;
  EXPECT_NE(table.find("ID"), std::string::npos) << table;
  EXPECT_NE(table.find(std::string(seen[0].as_object().at("id").as_string())), std::string::npos)
      << table;

  const auto [killed, out] = admin("kill", {"--user", "u"});
  EXPECT_EQ(killed, 0) << out;
  EXPECT_NE(out.find("ended 3"), std::string::npos) << out;
  EXPECT_EQ(sessions({"--user", "u"}).size(), 0u);
  const auto body = http_get(metrics_port_, "/metrics").body;
  EXPECT_EQ(metric_value(body, "turnpike_allocations_ended_total"), 3) << body;
  uclient.signal(SIGTERM);
  uclient.wait_exit(5s);
}

TEST_F(SessionsApiTest, KillByIdAndTheClientGets437) {
  turn_session alice(SOCK_DGRAM, server(), "alice", "secret");
  ASSERT_EQ(alice.allocate().code, 0);
  turn_session other(SOCK_DGRAM, server(), "u", "p");
  ASSERT_EQ(other.allocate().code, 0);
  const auto listed = sessions({"--user", "alice"});
  ASSERT_EQ(listed.size(), 1u);
  const std::string id(listed[0].as_object().at("id").as_string());
  const auto [rc, out] = admin("kill", {"--id", id});
  EXPECT_EQ(rc, 0) << out;
  EXPECT_NE(out.find("ended 1"), std::string::npos) << out;
  const auto refresh = alice.request(protocol::method::refresh, {});
  EXPECT_EQ(refresh.code, 437);
  EXPECT_EQ(other.request(protocol::method::refresh, {}).code, 0);  // the other one runs on
  EXPECT_EQ(sessions().size(), 1u);
  // Ended already: 404, said so.
  const auto [again, why] = admin("kill", {"--id", id});
  EXPECT_EQ(again, 1);
  EXPECT_NE(why.find("404"), std::string::npos) << why;
}

TEST_F(SessionsApiTest, WrongKeyListsNothing) {
  turn_session alice(SOCK_DGRAM, server(), "alice", "secret");
  ASSERT_EQ(alice.allocate().code, 0);
  const auto [rc, out] = admin("sessions", {"--json"}, "wrong-key-wrong-key-wrong");
  EXPECT_EQ(rc, 1);
  EXPECT_NE(out.find("401"), std::string::npos) << out;
  EXPECT_EQ(out.find("alice"), std::string::npos) << out;
  const auto [killed, why] = admin("kill", {"--user", "alice"}, "wrong-key-wrong-key-wrong");
  EXPECT_EQ(killed, 1);
  EXPECT_EQ(sessions().size(), 1u);
  // No Authorization header at all: 401 as well.
  EXPECT_EQ(http_get(metrics_port_, "/sessions").status, 401);
}

}  // namespace
}  // namespace turnpike::test
