// SPDX-License-Identifier: Apache-2.0
// An operator's own turnserver.conf works the first time: every file of tests/data/turnserver
// (written in the styles of real deployments: Matrix, Jitsi, Nextcloud, BigBlueButton,
// Mattermost, LiveKit, Rocket.Chat, XMPP, YunoHost, Ansible roles, docker-compose stacks,
// home labs, cloud VMs) passes --check-config as it is, and starts with only what belongs to
// another machine replaced on the command line (addresses, ports, certificate, Redis, file
// paths). A misspelt option stops start-up with a suggestion; --check-config names every
// mistake of a file.
#include <gtest/gtest.h>

#include <pwd.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "support/certs.hpp"
#include "support/process.hpp"
#include "support/redis.hpp"
#include "support/stun_client.hpp"
#include "support/turn_session.hpp"

namespace turnpike::test {
namespace {

using namespace std::chrono_literals;

const std::string data_dir = TURNPIKE_TEST_DATA_DIR "/turnserver";

std::vector<std::string> config_files() {
  std::vector<std::string> out;
  for (const auto& e : std::filesystem::directory_iterator(data_dir)) {
    if (e.path().extension() == ".conf") out.push_back(e.path().filename().string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::string read_all(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

bool has_option(const std::string& text, const std::string& name) {
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.starts_with(name + "=") || line == name) return true;
  }
  return false;
}

TEST(CoturnConfigs, ThereAreAtLeastThirty) {
  EXPECT_GE(config_files().size(), 30u);
}

class CoturnConfig : public ::testing::TestWithParam<std::string> {};

TEST_P(CoturnConfig, PassesCheckConfigAndStarts) {
  const std::string path = data_dir + "/" + GetParam();
  const std::string text = read_all(path);
  {
    process check({TURNPIKE_BINARY, "-c", path, "--check-config"});
    EXPECT_EQ(check.wait_exit(), 0) << check.output();
    EXPECT_EQ(check.output().find("configuration error"), std::string::npos) << check.output();
    EXPECT_NE(check.output().find("# Effective Turnpike configuration"), std::string::npos);
  }

  // What belongs to the machine the file was written for: its addresses and ports, its
  // certificate, its Redis, its log and pid files.
  const std::string pidfile = testing::TempDir() + "/turnpike-" + GetParam() + ".pid";
  std::vector<std::string> argv{
      TURNPIKE_BINARY, "-c", path, "--listening-ip", "127.0.0.1", "--relay-ip", "127.0.0.1",
      "--listening-port", "0", "--alt-listening-port", "0", "--tls-listening-port", "0",
      "--prometheus-address", "127.0.0.1", "--prometheus-port", "0", "--log-file", "stdout",
      "--no-stdout-log=false", "--pidfile", pidfile,
      // proc-user: whoever runs the test (nobody else can remove
      // the pidfile it writes)
      "--proc-user", std::to_string(::geteuid())};
  std::optional<test_certificate> cert;
  if (has_option(text, "cert")) {
    cert = make_test_certificate();
    argv.insert(argv.end(), {"--cert", cert->cert, "--pkey", cert->key});
  }
  std::unique_ptr<redis_server> redis;
  if (text.find("redis-") != std::string::npos) {
    redis = std::make_unique<redis_server>();
    argv.insert(argv.end(), {"--redis-userdb", redis->connection(), "--redis-statsdb",
                             redis->connection() + " dbname=1"});
  }
  process server(argv);
  const auto listening = server.wait_for(std::regex(R"(listening (udp|tcp) 127\.0\.0\.1:(\d+))"));
  ASSERT_TRUE(listening) << server.output();
  ASSERT_TRUE(server.wait_for(std::regex("iceServers"))) << server.output();
  EXPECT_EQ(server.output().find("[error]"), std::string::npos) << server.output();

  // It answers a Binding request on the transport it listens on.
  const int type = (*listening)[1] == "udp" ? SOCK_DGRAM : SOCK_STREAM;
  const auto at = *protocol::transport_address::parse_ip(
      "127.0.0.1", static_cast<std::uint16_t>(std::stoi((*listening)[2].str())));
  stun_client client(type, at);
  EXPECT_TRUE(client.binding()) << server.output();

  server.signal(SIGTERM);
  EXPECT_EQ(server.wait_exit(), 0) << server.output();
  EXPECT_FALSE(std::filesystem::exists(pidfile));
}

INSTANTIATE_TEST_SUITE_P(Files, CoturnConfig, ::testing::ValuesIn(config_files()),
                         [](const ::testing::TestParamInfo<std::string>& file) {
                           std::string name = file.param.substr(0, file.param.size() - 5);
                           std::replace_if(
                               name.begin(), name.end(),
                               [](char c) { return !std::isalnum(static_cast<unsigned char>(c)); },
                               '_');
                           return name;
                         });

std::string write_temp(const std::string& name, const std::string& text) {
  const std::string path = testing::TempDir() + "/" + name;
  std::ofstream(path) << text;
  return path;
}

TEST(CoturnConfigs, ProcUserRunsOnAsThatUserOnceListening) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root (to give it up)";
  const passwd* nobody = ::getpwnam("nobody");
  ASSERT_NE(nobody, nullptr);
  process server({TURNPIKE_BINARY, "-n", "-L", "127.0.0.1", "-p", "0", "-r", "test", "-u", "u:p",
                  "--relay-threads", "2", "--proc-user", "nobody", "--proc-group", "nogroup"});
  const auto udp = server.wait_for(std::regex(R"(listening udp 127\.0\.0\.1:(\d+))"));
  ASSERT_TRUE(udp) << server.output();
  ASSERT_TRUE(server.wait_for(std::regex("running as user nobody, group nogroup")))
      << server.output();
  ASSERT_TRUE(server.wait_for(std::regex("iceServers"))) << server.output();
  // Every thread of the process: real, effective, saved and filesystem ids.
  for (const auto& task :
       std::filesystem::directory_iterator("/proc/" + std::to_string(server.pid()) + "/task")) {
    const std::string status = read_all(task.path().string() + "/status");
    const std::string uid = std::to_string(nobody->pw_uid);
    EXPECT_NE(status.find("Uid:\t" + uid + "\t" + uid + "\t" + uid + "\t" + uid), std::string::npos)
        << status;
    // No supplementary group left.
    EXPECT_TRUE(std::regex_search(status, std::regex("\nGroups:[ \t]*\n"))) << status;
  }
  // And it still relays: a relay socket opened after the switch.
  turn_session s(SOCK_DGRAM,
                 *protocol::transport_address::parse_ip(
                     "127.0.0.1", static_cast<std::uint16_t>(std::stoi((*udp)[1].str()))),
                 "u", "p");
  EXPECT_EQ(s.allocate().code, 0);
  server.signal(SIGTERM);
  EXPECT_EQ(server.wait_exit(), 0) << server.output();
  // An unknown user stops start-up.
  process unknown(
      {TURNPIKE_BINARY, "-n", "-L", "127.0.0.1", "-p", "0", "--proc-user", "no-such-user-here"});
  EXPECT_EQ(unknown.wait_exit(), 1);
  EXPECT_NE(unknown.output().find("proc-user: no user 'no-such-user-here'"), std::string::npos)
      << unknown.output();
}

TEST(CoturnConfigs, MisspeltOptionStopsStartUpWithASuggestion) {
  const auto path = write_temp("turnpike-misspelt.conf",
                               "listening-ip=127.0.0.1\nlistening-port=0\nuse-auth-secret\n"
                               "static-auth-secert=s3cret\n");
  process server({TURNPIKE_BINARY, "-c", path});
  EXPECT_EQ(server.wait_exit(), 1);
  EXPECT_NE(server.output().find(path + ":4: unknown option 'static-auth-secert' (did you mean "
                                        "'static-auth-secret'?)"),
            std::string::npos)
      << server.output();
}

TEST(CoturnConfigs, CheckConfigNamesEveryMistake) {
  const auto path = write_temp("turnpike-three-mistakes.conf",
                               "# three mistakes and a dropped option\n"
                               "listening-port=3478\n"
                               "no-loopback-peers\n"
                               "min-port=49152 # from the firewall rules\n"
                               "max-prot=65535\n"
                               "user-quota=twelve\n"
                               "denied-peer-ip=2001:db8::-2001:db8:::ffff\n"
                               "realm=example.org\n");
  process check({TURNPIKE_BINARY, "-c", path, "--check-config"});
  EXPECT_EQ(check.wait_exit(), 1);
  const std::string out = check.output();
  EXPECT_NE(out.find(path + ":5: unknown option 'max-prot' (did you mean 'max-port'?)"),
            std::string::npos)
      << out;
  EXPECT_NE(out.find(path + ":6: user-quota: 'twelve' is not a whole number"), std::string::npos)
      << out;
  EXPECT_NE(out.find(path + ":7: denied-peer-ip: '2001:db8::-2001:db8:::ffff' is not an address"),
            std::string::npos)
      << out;
  EXPECT_NE(out.find("3 errors in the configuration"), std::string::npos) << out;
  // The warnings come too: the dropped option, the dropped comment.
  EXPECT_NE(out.find(path + ":3: no-loopback-peers: no longer a coturn option"), std::string::npos)
      << out;
  EXPECT_NE(out.find(path + ":4: min-port: the comment after the value is dropped"),
            std::string::npos)
      << out;
}

}  // namespace
}  // namespace turnpike::test
