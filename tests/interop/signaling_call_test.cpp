// SPDX-License-Identifier: Apache-2.0
// The whole WebRTC path in headless Chromium (Debian's chromium, driven by playwright-core):
// two pages open the demo page from Turnpike's signaling service, fetch TURN credentials from
// /ice-servers with the API key, join one room, connect relay-only through Turnpike, exchange
// data-channel messages, call restartIce() and exchange messages again from the new
// allocation; once over the WebSocket and once over the HTTP endpoints. The browser side is
// tests/interop/browser/signaling_call.mjs; the page is server/signaling/demo/.
#include <gtest/gtest.h>

#include "support/browser.hpp"
#include "support/http.hpp"
#include "support/process.hpp"

namespace turnpike::test {
namespace {

using namespace std::chrono_literals;

const std::string key = "chromium-e2e-key-0123456789";

class SignalingCall : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    ASSERT_EQ(browser_missing(), "");
    server_ = std::make_unique<process>(std::vector<std::string>{TURNPIKE_BINARY,
                                                                 "-n",
                                                                 "-L",
                                                                 "127.0.0.1",
                                                                 "-p",
                                                                 "0",
                                                                 "-r",
                                                                 "e2e",
                                                                 "--allow-loopback-peers",
                                                                 "--relay-threads",
                                                                 "2",
                                                                 "--use-auth-secret",
                                                                 "--static-auth-secret",
                                                                 "e2e-secret",
                                                                 "--signaling-port",
                                                                 "0",
                                                                 "--signaling-address",
                                                                 "127.0.0.1",
                                                                 "--signaling-api-key",
                                                                 key,
                                                                 "--prometheus",
                                                                 "--prometheus-port",
                                                                 "0",
                                                                 "--prometheus-address",
                                                                 "127.0.0.1"});
    auto sig = server_->wait_for(std::regex(R"(signaling on http://127\.0\.0\.1:(\d+))"));
    ASSERT_TRUE(sig) << server_->output();
    base_ = "http://127.0.0.1:" + (*sig)[1].str();
    auto m = server_->wait_for(std::regex(R"(metrics on http://127\.0\.0\.1:(\d+))"));
    ASSERT_TRUE(m) << server_->output();
    metrics_port_ = static_cast<std::uint16_t>(std::stoi((*m)[1]));
    ASSERT_TRUE(server_->wait_for(std::regex("iceServers"))) << server_->output();
  }
  void TearDown() override {
    if (!server_) return;
    server_->signal(SIGTERM);
    EXPECT_EQ(server_->wait_exit(), 0) << server_->output();
  }
  std::unique_ptr<process> server_;
  std::string base_;
  std::uint16_t metrics_port_ = 0;
};

TEST_P(SignalingCall, RelayOnlyCallSurvivesAnIceRestart) {
  process node({"node", browser_dir + "/signaling_call.mjs", "--base", base_, "--key", key,
                "--signal", GetParam()});
  const auto rc = node.wait_exit(120s);
  const std::string out = node.output();
  EXPECT_EQ(rc, 0) << out;
  EXPECT_NE(out.find(R"("success":true)"), std::string::npos) << out;
  for (const char* held : {R"("relayedBefore":true)", R"("relayedAfter":true)",
                           R"("newAllocation":true)", R"("received":[10,10])"}) {
    EXPECT_NE(out.find(held), std::string::npos) << held << "\n" << out;
  }
  // Each page allocated on UDP and TCP at first; the restarting page allocated again.
  const auto text = http_get(metrics_port_, "/metrics").body;
  EXPECT_GE(metric_value(text, "turnpike_allocations_created_total"), 6) << text;
  EXPECT_EQ(metric_value(text, "turnpike_signaling_credentials_issued_total"), 2);
  EXPECT_EQ(metric_value(text, "turnpike_auth_failures_total{reason=\"bad_credentials\"}"), 0);
}

INSTANTIATE_TEST_SUITE_P(Signal, SignalingCall, ::testing::Values("ws", "http"),
                         [](const auto& param_info) {
                           return param_info.param == "ws" ? std::string("WebSocket")
                                                           : std::string("HttpEndpoints");
                         });

}  // namespace
}  // namespace turnpike::test
