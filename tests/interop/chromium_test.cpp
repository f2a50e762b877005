// SPDX-License-Identifier: Apache-2.0
// Headless Chromium (Debian's chromium, driven by playwright-core) opens a data channel
// between two RTCPeerConnections with iceTransportPolicy "relay" through the real binary, over
// TURN/UDP and TURN/TCP; the selected pair must be relay/relay. A wrong password must fail
// cleanly. The browser side is tests/interop/browser/relay_datachannel.mjs.
#include <gtest/gtest.h>

#include "support/browser.hpp"
#include "support/process.hpp"

namespace turnpike::test {
namespace {

using namespace std::chrono_literals;

class ChromiumTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(browser_missing(), "");
    server_ = std::make_unique<process>(
        std::vector<std::string>{TURNPIKE_BINARY, "-n", "-L", "127.0.0.1", "-p", "0", "-u", "u:p",
                                 "-r", "test", "--allow-loopback-peers", "--relay-threads", "2"});
    auto m = server_->wait_for(std::regex(R"(listening udp 127\.0\.0\.1:(\d+))"));
    ASSERT_TRUE(m) << server_->output();
    port_ = (*m)[1];
    ASSERT_TRUE(server_->wait_for(std::regex("iceServers"))) << server_->output();
  }
  void TearDown() override {
    if (!server_) return;
    server_->signal(SIGTERM);
    EXPECT_EQ(server_->wait_exit(), 0) << server_->output();
  }
  // Runs the browser script; returns its exit code and output.
  std::pair<std::optional<int>, std::string> browse(const std::string& transport,
                                                    const std::string& password, bool expect_fail) {
    std::vector<std::string> argv{
        "node",       browser_dir + "/relay_datachannel.mjs",
        "--url",      "turn:127.0.0.1:" + port_ + "?transport=" + transport,
        "--user",     "u",
        "--password", password};
    if (expect_fail) {
      argv.insert(argv.end(), {"--expect", "fail", "--timeout", "8000"});
    }
    process node(argv);
    const auto rc = node.wait_exit(90s);
    return {rc, node.output()};
  }
  std::unique_ptr<process> server_;
  std::string port_;
};

TEST_F(ChromiumTest, RelayOnlyDataChannelOverUdp) {
  const auto [rc, out] = browse("udp", "p", false);
  EXPECT_EQ(rc, 0) << out;
  EXPECT_NE(out.find(R"("selected":{"local":"relay","remote":"relay")"), std::string::npos) << out;
}

TEST_F(ChromiumTest, RelayOnlyDataChannelOverTcp) {
  const auto [rc, out] = browse("tcp", "p", false);
  EXPECT_EQ(rc, 0) << out;
  EXPECT_NE(out.find(R"("echoes":20)"), std::string::npos) << out;
}

TEST_F(ChromiumTest, WrongPasswordFailsCleanly) {
  const auto [rc, out] = browse("udp", "wrong", true);
  EXPECT_EQ(rc, 0) << out;  // the script saw the failure it was told to expect
  EXPECT_NE(out.find(R"("success":false)"), std::string::npos) << out;
  EXPECT_NE(out.find(R"("candidates":{"a":[],"b":[]})"), std::string::npos) << out;
}

}  // namespace
}  // namespace turnpike::test
