// SPDX-License-Identifier: Apache-2.0
// turnserver.conf and command-line handling: coturn's syntax, precedence, warnings, and error
// messages that name file, line and reason.
#include <gtest/gtest.h>

#include <fstream>

#include "server/config/command_line.hpp"
#include "server/config/config.hpp"
#include "server/config/options.hpp"

namespace turnpike::server::config {
namespace {

std::string error_of(const std::string& text) {
  try {
    build_config(parse_config_text(text, "t.conf"), {});
  } catch (const config_error& e) {
    return e.what();
  }
  return "";
}

command_line cli(std::vector<const char*> args) {
  args.insert(args.begin(), "turnpike");
  return parse_command_line(static_cast<int>(args.size()), args.data());
}

TEST(ConfigFile, CoturnSyntax) {
  const auto s = parse_config_text(
      "# comment\n"
      "\n"
      "listening-port=3480\n"
      "  listening-ip 127.0.0.1   \n"
      "listening-ip = ::1\n"
      "fingerprint\n"
      "realm=\"example.org\"\n"
      "--verbose\n",
      "t.conf");
  ASSERT_EQ(s.size(), 6u);
  EXPECT_EQ(s[0].name, "listening-port");
  EXPECT_EQ(*s[0].value, "3480");
  EXPECT_EQ(s[0].line, 3);
  EXPECT_EQ(*s[1].value, "127.0.0.1");
  EXPECT_EQ(*s[2].value, "::1");
  EXPECT_FALSE(s[3].value);
  EXPECT_EQ(*s[4].value, "example.org");
  EXPECT_EQ(s[5].name, "verbose");
  const auto c = build_config(s, {}).cfg;
  EXPECT_EQ(c.listening_port, 3480);
  ASSERT_EQ(c.listening_ips.size(), 2u);
  EXPECT_EQ(c.listening_ips[1].to_string(), "[::1]:0");
  EXPECT_TRUE(c.fingerprint);
  EXPECT_EQ(c.realm, "example.org");
  EXPECT_EQ(c.level, log_level::debug);
}

TEST(ConfigFile, ErrorsNameFileLineAndReason) {
  EXPECT_EQ(error_of("\n\nbogus-option=1\n"), "t.conf:3: unknown option 'bogus-option'");
  EXPECT_EQ(error_of("listening-port=\n"), "t.conf:1: listening-port: a value is required");
  EXPECT_EQ(error_of("listening-port=99999\n"),
            "t.conf:1: listening-port: '99999' is not a whole number from 0 to 65535");
  EXPECT_EQ(error_of("listening-port=12ab\n"),
            "t.conf:1: listening-port: '12ab' is not a whole number from 0 to 65535");
  EXPECT_EQ(error_of("listening-ip=10.0.0.300\n"),
            "t.conf:1: listening-ip: '10.0.0.300' is not an IPv4 or IPv6 address");
  EXPECT_EQ(error_of("fingerprint=maybe\n"),
            "t.conf:1: fingerprint: 'maybe' is not a yes/no value");
  EXPECT_EQ(error_of("user=nopassword\n"), "t.conf:1: user: expected name:password or name:0xKEY");
  EXPECT_EQ(error_of("user=bob:0x12zz5678901234567890123456789012\n"),
            "t.conf:1: user: key after 0x must be 32 hex digits");
  EXPECT_EQ(error_of("log-level=loud\n"),
            "t.conf:1: log-level: 'loud' is not one of trace, debug, info, warning, error");
  EXPECT_EQ(error_of("syslog-facility=local9\n"),
            "t.conf:1: syslog-facility: 'local9' is not a syslog facility");
  EXPECT_EQ(error_of("no-udp\nno-tcp\n"), "no-udp and no-tcp together leave no listener");
  EXPECT_EQ(error_of("relay-threads=-1\n"),
            "t.conf:1: relay-threads: '-1' is not a whole number from 0 to 256");
}

TEST(ConfigFile, FlagValuesAndUsers) {
  auto c = build_config(parse_config_text("fingerprint=no\nno-udp=yes\nuser=alice:secret\n"
                                          "user=bob:0x0123456789abcdef0123456789ABCDEF\n",
                                          "t.conf"),
                        {})
               .cfg;
  EXPECT_FALSE(c.fingerprint);
  EXPECT_FALSE(c.udp);
  ASSERT_EQ(c.users.size(), 2u);
  EXPECT_EQ(*c.users[0].password, "secret");
  EXPECT_FALSE(c.users[0].key);
  EXPECT_EQ(c.users[1].name, "bob");
  ASSERT_TRUE(c.users[1].key);
  EXPECT_EQ((*c.users[1].key)[0], 0x01);
  EXPECT_EQ((*c.users[1].key)[15], 0xef);
}

TEST(ConfigFile, UnsupportedCoturnOptionsWarnNeverSilently) {
  auto r = build_config(
      parse_config_text("alt-tls-listening-port=5350\nmobility\nlistening-port=3478\n", "t.conf"),
      {});
  ASSERT_EQ(r.warnings.size(), 2u);
  EXPECT_EQ(
      r.warnings[0],
      "t.conf:1: alt-tls-listening-port: coturn option not supported by Turnpike yet; ignored");
  EXPECT_EQ(r.warnings[1],
            "t.conf:2: mobility: coturn option not supported by Turnpike yet; ignored");
}

TEST(CommandLine, OverridesFileAndListsReplace) {
  const auto file = parse_config_text(
      "listening-port=3000\nlistening-ip=10.0.0.1\nlistening-ip=10.0.0.2\nrealm=file\n", "t.conf");
  const auto cl = cli({"-p", "4000", "-L", "127.0.0.1", "--realm=cli", "-f", "-v"});
  ASSERT_FALSE(cl.exit_code);
  const auto c = build_config(file, cl.settings).cfg;
  EXPECT_EQ(c.listening_port, 4000);
  ASSERT_EQ(c.listening_ips.size(), 1u);
  EXPECT_EQ(c.listening_ips[0].ip_string(), "127.0.0.1");
  EXPECT_EQ(c.realm, "cli");
  EXPECT_TRUE(c.fingerprint);
  EXPECT_EQ(c.level, log_level::debug);
}

TEST(CommandLine, SpecialOptions) {
  auto cl = cli({"-c", "/x/turnserver.conf", "--check-config"});
  EXPECT_EQ(*cl.config_path, "/x/turnserver.conf");
  EXPECT_TRUE(cl.check_config);
  cl = cli({"-n", "--no-cli", "-V"});
  EXPECT_TRUE(cl.no_config_file);
  EXPECT_EQ(build_config({}, cl.settings).cfg.level, log_level::trace);
  // A coturn command line with options we do not implement yet still parses.
  cl = cli({"-n", "--min-port", "49152", "--max-port=65535", "--no-tls", "--stale-nonce",
            "--mobility", "--secure-stun", "--dh566", "--user", "u:p", "--user", "v:q", "-a"});
  ASSERT_FALSE(cl.exit_code);
  auto r = build_config({}, cl.settings);
  EXPECT_EQ(r.warnings.size(), 3u);  // mobility, secure-stun, dh566
  EXPECT_EQ(r.cfg.min_port, 49152);
  EXPECT_EQ(r.cfg.stale_nonce, 600u);
  EXPECT_EQ(r.cfg.users.size(), 2u);
  EXPECT_TRUE(r.cfg.lt_cred_mech);
}

TEST(CommandLine, UnknownOptionFails) {
  testing::internal::CaptureStderr();
  testing::internal::CaptureStdout();
  const auto cl = cli({"--no-such-option"});
  testing::internal::GetCapturedStderr();
  testing::internal::GetCapturedStdout();
  ASSERT_TRUE(cl.exit_code);
  EXPECT_NE(*cl.exit_code, 0);
  try {
    build_config({}, cli({"--listening-port", "x"}).settings);
    FAIL();
  } catch (const config_error& e) {
    EXPECT_STREQ(e.what(),
                 "command line: --listening-port: 'x' is not a whole number from 0 to 65535");
  }
}

TEST(Config, LoadOrderAndEmbeddedDefault) {
  const std::string path = testing::TempDir() + "/turnpike-test.conf";
  std::ofstream(path) << "listening-port=5000\n";
  auto lc = load_config(cli({"-c", path.c_str(), "-p", "5001"}));
  EXPECT_EQ(lc.cfg.listening_port, 5001);
  EXPECT_EQ(lc.source, path);
  EXPECT_FALSE(lc.embedded_default);
  EXPECT_THROW(load_config(cli({"-c", "/nonexistent/turnserver.conf"})), config_error);
  lc = load_config(cli({"-n"}));
  EXPECT_EQ(lc.cfg.listening_port, 3478);
  EXPECT_TRUE(lc.cfg.listening_ips.empty());
  // The embedded default parses and carries the demo user.
  auto d = build_config(parse_config_text(embedded_default_text("pw"), "<embedded default>"), {});
  EXPECT_EQ(d.cfg.realm, "turnpike.demo");
  ASSERT_EQ(d.cfg.users.size(), 1u);
  EXPECT_EQ(*d.cfg.users[0].password, "pw");
  EXPECT_EQ(d.cfg.listening_ips.at(0).ip_string(), "127.0.0.1");
  // ... and the signaling service with its demo page, on loopback too.
  EXPECT_EQ(d.cfg.signaling_port, 8088);
  EXPECT_EQ(d.cfg.signaling_address.ip_string(), "127.0.0.1");
  EXPECT_TRUE(d.cfg.use_auth_secret);
  EXPECT_FALSE(d.cfg.signaling_api_key.empty());
}

TEST(Config, SignalingOptions) {
  const auto c = build_config(parse_config_text("signaling-port=0\n", "t.conf"), {}).cfg;
  EXPECT_EQ(c.signaling_port, 0);
  EXPECT_EQ(c.signaling_max_message, 65536u);
  EXPECT_EQ(c.signaling_peers_per_room, 8u);
  EXPECT_TRUE(c.signaling_demo);
  EXPECT_FALSE(build_config({}, {}).cfg.signaling_port);  // off unless asked for
  const std::string full =
      "use-auth-secret\nstatic-auth-secret=s\nsignaling-port=8443\n"
      "signaling-api-key=0123456789abcdef\nsignaling-ice-url=turns:turn.example.org:443\n"
      "signaling-idle-timeout=30\nno-signaling-demo\n";
  const auto f = build_config(parse_config_text(full, "t.conf"), {}).cfg;
  EXPECT_EQ(f.signaling_ice_urls.at(0), "turns:turn.example.org:443");
  EXPECT_EQ(f.signaling_idle_timeout, 30u);
  EXPECT_FALSE(f.signaling_demo);
  const auto again = build_config(parse_config_text(describe(f), "dump"), {}).cfg;
  EXPECT_EQ(describe(again).find("signaling-port=8443"), describe(f).find("signaling-port=8443"));
  EXPECT_EQ(error_of("signaling-api-key=short\n"),
            "t.conf:1: signaling-api-key: must be at least 16 characters (it guards TURN "
            "credentials)");
  EXPECT_EQ(error_of("signaling-api-key=0123456789abcdef\nuse-auth-secret\nstatic-auth-secret=s\n"),
            "signaling-api-key needs signaling-port");
  EXPECT_EQ(error_of("signaling-port=1\nsignaling-api-key=0123456789abcdef\n"),
            "signaling-api-key needs use-auth-secret and a static-auth-secret: /ice-servers "
            "signs TURN REST credentials with it");
  EXPECT_EQ(error_of("signaling-ice-url=http://x\n"),
            "t.conf:1: signaling-ice-url: 'http://x' is not a stun:, turn: or turns: URL");
  EXPECT_EQ(error_of("signaling-max-message=10\n"),
            "t.conf:1: signaling-max-message: '10' is not a whole number from 1024 to 1048576");
  EXPECT_EQ(error_of("signaling-peers-per-room=1\n"),
            "t.conf:1: signaling-peers-per-room: '1' is not a whole number from 2 to 1000");
  const auto m =
      build_config(parse_config_text("mdns\nmdns-name=Turnpike on turn-1\n", "t.conf"), {});
  EXPECT_TRUE(m.cfg.mdns);
  EXPECT_EQ(build_config(parse_config_text(describe(m.cfg), "dump"), {}).cfg.mdns_name,
            "Turnpike on turn-1");
  EXPECT_EQ(error_of("mdns-name=" + std::string(64, 'n') + "\n"),
            "t.conf:1: mdns-name: must be at most 63 bytes (one DNS label)");
  EXPECT_EQ(error_of("signaling-address=example.org\n"),
            "t.conf:1: signaling-address: 'example.org' is not an IPv4 or IPv6 address");
}

TEST(Config, DescribeParsesBackToTheSameConfig) {
  const auto original =
      build_config(parse_config_text("listening-ip=127.0.0.1\nlistening-port=4000\nfingerprint\n"
                                     "software-attribute\nrealm=r\nlog-format=json\nno-tcp\n",
                                     "t.conf"),
                   {});
  const auto again = build_config(parse_config_text(describe(original.cfg), "dump"), {}).cfg;
  EXPECT_EQ(describe(again), describe(original.cfg));
  EXPECT_EQ(again.format, log_format::json);
  EXPECT_FALSE(again.tcp);
}

TEST(Options, TableHasNoDuplicates) {
  const auto t = option_table();
  for (std::size_t i = 0; i < t.size(); ++i) {
    for (std::size_t j = i + 1; j < t.size(); ++j) {
      EXPECT_NE(t[i].name, t[j].name);
      if (t[i].short_name != 0) {
        EXPECT_NE(t[i].short_name, t[j].short_name) << t[i].name;
      }
    }
  }
}

}  // namespace
}  // namespace turnpike::server::config
