// SPDX-License-Identifier: Apache-2.0
// What a coturn operator's own turnserver.conf meets: every coturn option name understood,
// removed and no-op ones warned about, misspellings suggested, every problem of a file named
// at once, trailing comments dropped with a warning, coturn's value meanings, host names
// resolved, channel numbers up to 0x7FFF.
#include <gtest/gtest.h>

#include <map>

#include "server/config/config.hpp"
#include "server/config/options.hpp"
#include "server/config/resolve.hpp"

namespace turnpike::server::config {
namespace {

// Names a test resolves without DNS; anything else does not resolve.
host_resolver fake_hosts(std::map<std::string, std::vector<std::string>> hosts) {
  return [hosts](const std::string& name, std::string& error) {
    std::vector<protocol::transport_address> out;
    const auto it = hosts.find(name);
    if (it == hosts.end()) {
      error = "Name or service not known";
      return out;
    }
    for (const auto& ip : it->second) out.push_back(*protocol::transport_address::parse_ip(ip));
    return out;
  };
}

loaded_config load(const std::string& text, const host_resolver& resolve = fake_hosts({})) {
  return build_config(parse_config_text(text, "t.conf"), {}, resolve);
}

std::vector<std::string> errors_of(const std::string& text,
                                   const host_resolver& resolve = fake_hosts({})) {
  try {
    load(text, resolve);
  } catch (const config_errors& e) {
    return e.errors;
  }
  return {};
}

bool contains(const std::vector<std::string>& lines, const std::string& part) {
  for (const auto& l : lines) {
    if (l.find(part) != std::string::npos) return true;
  }
  return false;
}

TEST(CoturnSwitch, EveryCoturnReleaseOptionIsKnown) {
  // Every long option of coturn's turnserver from 4.0.0.0 to 4.17.1 (src/apps/relay/
  // mainrelay.c, long_options[], at each release tag).
  const char* const coturn[] = {"CA-file",
                                "Verbose",
                                "acme-redirect",
                                "allocation-default-address-family",
                                "allow-loopback-peers",
                                "allowed-peer-ip",
                                "alt-listening-port",
                                "alt-tls-listening-port",
                                "alternate-server",
                                "aux-server",
                                "bps-capacity",
                                "cert",
                                "channel-lifetime",
                                "check-origin-consistency",
                                "cipher-list",
                                "cli",
                                "cli-ip",
                                "cli-max-output-sessions",
                                "cli-password",
                                "cli-port",
                                "cpus",
                                "daemon",
                                "db",
                                "denied-peer-ip",
                                "dh-file",
                                "dh1066",
                                "dh2066",
                                "dh566",
                                "drain-min-allocations",
                                "drop-invalid-packets",
                                "drop-invalid-packets-log",
                                "dtls",
                                "ec-curve-name",
                                "external-ip",
                                "fingerprint",
                                "include-reason-string",
                                "keep-address-family",
                                "listening-device",
                                "listening-ip",
                                "listening-port",
                                "log-binding",
                                "log-file",
                                "log-min-level",
                                "lt-cred-mech",
                                "max-allocate-lifetime",
                                "max-allocate-timeout",
                                "max-bps",
                                "max-port",
                                "min-port",
                                "mobility",
                                "mongo-userdb",
                                "multiplex-peer",
                                "multiplex-peer-max-peers",
                                "multiplex-peer-port",
                                "mysql-userdb",
                                "ne",
                                "new-log-timestamp",
                                "new-log-timestamp-format",
                                "no-auth",
                                "no-auth-pings",
                                "no-cli",
                                "no-dtls",
                                "no-dynamic-ip-list",
                                "no-dynamic-realms",
                                "no-http",
                                "no-loopback-peers",
                                "no-multicast-peers",
                                "no-rfc5780",
                                "no-software-attribute",
                                "no-sslv2",
                                "no-sslv3",
                                "no-stdout-log",
                                "no-stun",
                                "no-stun-backward-compatibility",
                                "no-tcp",
                                "no-tcp-relay",
                                "no-tls",
                                "no-tlsv1",
                                "no-tlsv1_1",
                                "no-tlsv1_2",
                                "no-udp",
                                "no-udp-relay",
                                "oauth",
                                "permission-lifetime",
                                "pidfile",
                                "pkey",
                                "pkey-pwd",
                                "proc-group",
                                "proc-user",
                                "prod",
                                "prometheus",
                                "prometheus-address",
                                "prometheus-cert",
                                "prometheus-key",
                                "prometheus-path",
                                "prometheus-port",
                                "prometheus-tls",
                                "prometheus-username-labels",
                                "psql-userdb",
                                "raw-public-keys",
                                "realm",
                                "redis-statsdb",
                                "redis-userdb",
                                "relay-device",
                                "relay-ip",
                                "relay-threads",
                                "respond-http-unsupported",
                                "response-origin-only-with-rfc5780",
                                "rest-api-separator",
                                "rfc3489-compatibility",
                                "rfc5766-channel-numbers",
                                "rfc5780",
                                "secret-key-file",
                                "secret-ts-exp-time",
                                "secure-stun",
                                "server-name",
                                "server-relay",
                                "sha256",
                                "sha384",
                                "sha512",
                                "simple-log",
                                "sock-buf-size",
                                "software-attribute",
                                "sql-userdb",
                                "st-cred-mech",
                                "stale-nonce",
                                "stateless-nonce",
                                "stateless-nonce-secret",
                                "static-auth-secret",
                                "stun-backward-compatibility",
                                "stun-only",
                                "syslog",
                                "syslog-facility",
                                "tcp-alternate-server",
                                "tcp-proxy-port",
                                "tls-alternate-server",
                                "tls-listening-port",
                                "tlsv1",
                                "tlsv1_1",
                                "total-quota",
                                "udp-alternate-server",
                                "udp-gso",
                                "udp-recvmmsg",
                                "udp-recvmmsg-log",
                                "udp-self-balance",
                                "udp-sendmmsg-log",
                                "unauthorized-ratelimit",
                                "unauthorized-ratelimit-rps",
                                "use-auth-secret",
                                "user",
                                "user-quota",
                                "userdb",
                                "verbose",
                                "version",
                                "web-admin",
                                "web-admin-ip",
                                "web-admin-listen-on-workers",
                                "web-admin-port"};
  for (const char* name : coturn) EXPECT_NE(find_option(name), nullptr) << name;
}

TEST(CoturnSwitch, DroppedAndNoOpOptionsWarnOnceAndSayWhatToDo) {
  const auto r = load(
      "no-loopback-peers\n"
      "dh2066\n"
      "no-tlsv1\n"
      "secure-stun\n"
      "listening-port=3478\n");
  ASSERT_EQ(r.warnings.size(), 4u);
  EXPECT_EQ(r.warnings[0],
            "t.conf:1: no-loopback-peers: no longer a coturn option: coturn dropped it after "
            "4.5.0.8; loopback peers are refused unless allow-loopback-peers is set; ignored");
  EXPECT_NE(r.warnings[1].find("t.conf:2: dh2066: no longer a coturn option"), std::string::npos);
  EXPECT_EQ(r.warnings[2],
            "t.conf:3: no-tlsv1: already what Turnpike does: TLS 1.0 is never offered; the line "
            "can go");
  EXPECT_EQ(r.warnings[3],
            "t.conf:4: secure-stun: coturn option not supported by Turnpike yet; ignored: "
            "Binding requests are answered without credentials");
  EXPECT_FALSE(r.cfg.allow_loopback_peers);
}

TEST(CoturnSwitch, UnknownNameStopsWithTheNearestKnownOne) {
  EXPECT_EQ(errors_of("\nlistening-prot=3478\n"),
            std::vector<std::string>{
                "t.conf:2: unknown option 'listening-prot' (did you mean 'listening-port'?)"});
  EXPECT_EQ(errors_of("static-auth-secert=x\n"),
            std::vector<std::string>{"t.conf:1: unknown option 'static-auth-secert' (did you "
                                     "mean 'static-auth-secret'?)"});
  EXPECT_EQ(errors_of("Fingerprint\n"),
            std::vector<std::string>{
                "t.conf:1: unknown option 'Fingerprint' (did you mean 'fingerprint'?)"});
  // Nothing near: no suggestion.
  EXPECT_EQ(errors_of("frobnicate-everything=1\n"),
            std::vector<std::string>{"t.conf:1: unknown option 'frobnicate-everything'"});
}

TEST(CoturnSwitch, EveryProblemOfAFileIsNamed) {
  const auto errors = errors_of(
      "listening-port=3478\n"
      "relay-treads=4\n"
      "min-port=70000\n"
      "denied-peer-ip=2001:db8::1-2001:db8::zz\n"
      "realm=example.org\n");
  ASSERT_EQ(errors.size(), 3u);
  EXPECT_EQ(errors[0], "t.conf:2: unknown option 'relay-treads' (did you mean 'relay-threads'?)");
  EXPECT_EQ(errors[1], "t.conf:3: min-port: '70000' is not a whole number from 1 to 65535");
  EXPECT_EQ(errors[2],
            "t.conf:4: denied-peer-ip: '2001:db8::1-2001:db8::zz' is not an address, a range a-b, "
            "or a CIDR prefix");
  // And the cross-checks after them.
  const auto more = errors_of("no-udp\nno-tcp\nlisten-ip=1.2.3.4\n");
  ASSERT_EQ(more.size(), 2u);
  EXPECT_NE(more[0].find("t.conf:3: unknown option 'listen-ip'"), std::string::npos);
  EXPECT_EQ(more[1], "no-udp and no-tcp together leave no listener");
}

TEST(CoturnSwitch, CommentAfterAValueIsDroppedWithAWarning) {
  const auto r = load(
      "user-quota=12 # 4 streams per call\n"
      "listening-ip=127.0.0.1  #\tinternal\n"
      "realm=example.org # our realm\n"
      "static-auth-secret=ab#c;d#e\n"
      "server-name=\"turn # one\"\n"
      "fingerprint # always\n");
  EXPECT_EQ(r.cfg.user_quota, 12u);
  ASSERT_EQ(r.cfg.listening_ips.size(), 1u);
  EXPECT_EQ(r.cfg.listening_ips[0].ip_string(), "127.0.0.1");
  EXPECT_EQ(r.cfg.realm, "example.org");
  ASSERT_EQ(r.cfg.static_auth_secrets.size(), 1u);
  EXPECT_EQ(r.cfg.static_auth_secrets[0], "ab#c;d#e");  // no space before '#': the value's own
  EXPECT_EQ(r.cfg.server_name, "turn # one");           // inside quotes: the value's own
  EXPECT_TRUE(r.cfg.fingerprint);
  ASSERT_EQ(r.warnings.size(), 4u);
  EXPECT_EQ(r.warnings[0],
            "t.conf:1: user-quota: the comment after the value is dropped ('# 4 streams per "
            "call')");
  EXPECT_EQ(r.warnings[2],
            "t.conf:3: realm: the comment after the value is dropped ('# our realm'); coturn "
            "would have read the whole text, comment included, as the value");
  EXPECT_NE(r.warnings[3].find("t.conf:6: fingerprint: the comment after the value is dropped"),
            std::string::npos);
}

TEST(CoturnSwitch, CoturnValueMeanings) {
  EXPECT_EQ(load("stale-nonce=0\n").cfg.stale_nonce, 0u);  // never stale, as in coturn
  EXPECT_EQ(load("stale-nonce\n").cfg.stale_nonce, 600u);
  EXPECT_EQ(load("stale-nonce=3600\n").cfg.stale_nonce, 3600u);
  // Channel numbers up to 0x7FFF by default; RFC 8656's range when asked for.
  EXPECT_TRUE(load("").cfg.rfc5766_channel_numbers);
  EXPECT_FALSE(load("rfc8656-channel-numbers\n").cfg.rfc5766_channel_numbers);
  EXPECT_FALSE(load("rfc5766-channel-numbers=no\n").cfg.rfc5766_channel_numbers);
  // coturn 4.17's spellings.
  const auto c = load(
                     "log-min-level=warning\nunauthorized-ratelimit-rps=50\n"
                     "stateless-nonce-secret=fleet\nrfc3489-compatibility=no\n")
                     .cfg;
  EXPECT_EQ(c.level, log_level::warning);
  EXPECT_EQ(c.unauthenticated_per_ip, 50u);
  EXPECT_EQ(c.nonce_secret, "fleet");
  EXPECT_FALSE(c.stun_backward_compatibility);
  // external-ip public/private maps the private relay address to the public one.
  const auto x = load("external-ip=203.0.113.10/10.0.0.5\n").cfg;
  ASSERT_EQ(x.external_ips.size(), 1u);
  EXPECT_EQ(x.external_ips[0].first.ip_string(), "203.0.113.10");
  EXPECT_EQ(x.external_ips[0].second->ip_string(), "10.0.0.5");
}

TEST(CoturnSwitch, HostNamesAreResolvedAndLogged) {
  const auto hosts = fake_hosts({{"turn_server", {"172.18.0.5"}},
                                 {"public.example.org", {"2001:db8::7", "203.0.113.7"}},
                                 {"redis", {"172.18.0.2"}}});
  const auto r = load(
      "relay-ip=turn_server\n"
      "external-ip=public.example.org/turn_server\n"
      "redis-userdb=\"ip=redis dbname=0\"\n"
      "drain-alternate-server=public.example.org:3479\n",
      hosts);
  ASSERT_EQ(r.cfg.relay_ips.size(), 1u);
  EXPECT_EQ(r.cfg.relay_ips[0].ip_string(), "172.18.0.5");
  // The first IPv4 answer, as coturn takes it.
  EXPECT_EQ(r.cfg.external_ips.at(0).first.ip_string(), "203.0.113.7");
  EXPECT_EQ(r.cfg.external_ips.at(0).second->ip_string(), "172.18.0.5");
  EXPECT_EQ(r.cfg.redis_userdb->host, "172.18.0.2");
  EXPECT_EQ(r.cfg.drain_alternate->to_string(), "203.0.113.7:3479");
  EXPECT_TRUE(contains(r.notes, "t.conf:1: relay-ip: 'turn_server' resolved to 172.18.0.5"));
  EXPECT_TRUE(contains(r.notes,
                       "t.conf:2: external-ip: 'public.example.org' resolved to 2001:db8::7, "
                       "203.0.113.7; using 203.0.113.7"));
  EXPECT_TRUE(contains(r.notes, "t.conf:3: redis-userdb: 'redis' resolved to 172.18.0.2"));
  // A name that does not resolve stops start-up.
  EXPECT_EQ(errors_of("listening-ip=nowhere.invalid\n", hosts),
            std::vector<std::string>{
                "t.conf:1: listening-ip: 'nowhere.invalid' is neither an address nor a host name "
                "that resolves (Name or service not known)"});
}

TEST(Resolve, NamesAddressesAndTheSystemResolver) {
  EXPECT_TRUE(is_host_name("localhost"));
  EXPECT_TRUE(is_host_name("turn_server"));
  EXPECT_TRUE(is_host_name("turn-1.example.org"));
  EXPECT_FALSE(is_host_name("127.0.0.1"));
  EXPECT_FALSE(is_host_name("::1"));
  EXPECT_FALSE(is_host_name("10.0.0.300"));  // a mistyped address, not a name
  EXPECT_FALSE(is_host_name("a b"));
  EXPECT_FALSE(is_host_name(""));
  // localhost is loopback without a query (RFC 6761): no /etc/hosts needed, no DNS asked.
  std::string error;
  const auto local = system_resolver("localhost", error);
  ASSERT_EQ(local.size(), 2u);
  EXPECT_EQ(first_address(local)->ip_string(), "127.0.0.1");
  EXPECT_EQ(local[1].ip_string(), "::1");
  // getaddrinfo itself, on address text (answered without a query).
  const auto v6 = system_resolver("::1", error);
  ASSERT_EQ(v6.size(), 1u) << error;
  EXPECT_EQ(v6[0].ip_string(), "::1");
  EXPECT_EQ(first_address(system_resolver("127.0.0.2", error))->ip_string(), "127.0.0.2");
  EXPECT_FALSE(first_address({}));
}

}  // namespace
}  // namespace turnpike::server::config
