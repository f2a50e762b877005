// SPDX-License-Identifier: Apache-2.0
// Every entry of the option table, walked: one spelling per option, and nothing supported
// that does nothing or is never shown.
#include "server/config/options.hpp"

#include <gtest/gtest.h>

#include <set>
#include <string>
#include <utility>
#include <vector>

#include "server/config/config.hpp"

namespace turnpike::server::config {
namespace {

TEST(OptionTable, EveryNameAndShortLetterIsSpeltOnce) {
  std::set<std::string_view> names;
  std::set<char> letters;
  for (const option_spec& o : option_table()) {
    EXPECT_TRUE(names.insert(o.name).second) << o.name;
    if (o.short_name != '\0') {
      EXPECT_TRUE(letters.insert(o.short_name).second) << o.name;
    }
    EXPECT_EQ(find_option(o.name), &o);
  }
}

TEST(OptionTable, SupportedEntriesApplyAndAreShownOtherEntriesDoNeither) {
  for (const option_spec& o : option_table()) {
    if (o.status != option_status::supported) {
      EXPECT_EQ(o.apply, nullptr) << o.name;
      EXPECT_EQ(o.show, nullptr) << o.name;
      EXPECT_TRUE(o.shown_with.empty()) << o.name;
      // What a warning tells the operator: turnpike_default and removed entries say why.
      if (o.status != option_status::not_yet) {
        EXPECT_FALSE(o.help.empty()) << o.name;
      }
      continue;
    }
    EXPECT_NE(o.apply, nullptr) << o.name;
    EXPECT_FALSE(o.help.empty()) << o.name;
    if (o.show != nullptr) {
      EXPECT_TRUE(o.shown_with.empty()) << o.name;
      continue;
    }
    const option_spec* by = find_option(o.shown_with);
    ASSERT_NE(by, nullptr) << o.name << " is shown with an unknown '" << o.shown_with << "'";
    EXPECT_NE(by->show, nullptr) << o.name << " is shown with " << by->name
                                 << ", which shows nothing";
  }
}

// Each supported option, given with what it needs, changes the configuration so that its
// effective configuration (describe) reads back into the same configuration: nothing an
// option changes goes unsaid. Secrets are shown as <hidden>; for them it is enough that
// their line is there.
TEST(OptionTable, WhatEachOptionChangesSurvivesDescribe) {
  auto value_for = [](const std::string& n) -> std::string {
    if (n == "relay-threads") return "3";
    if (n == "signaling-credential-ttl" || n == "signaling-max-message") return "4096";
    if (n == "min-port") return "50000";
    if (n == "max-port") return "60000";
    if (n == "kernel-relay-mode") return "generic";
    if (n == "allocation-default-address-family") return "ipv6";
    if (n.find("per-") != std::string::npos) return "7";
    if (n.find("port") != std::string::npos) return "4000";
    if (n == "external-ip") return "203.0.113.9/192.0.2.9";
    if (n.find("-ip") != std::string::npos || n.find("address") != std::string::npos ||
        n.find("alternate-server") != std::string::npos) {
      return "192.0.2.77";
    }
    if (n == "user") return "alice:secret";
    if (n == "log-level" || n == "log-min-level") return "debug";
    if (n == "log-format") return "json";
    if (n == "allocation-default-address-family") return "ipv6";
    if (n == "syslog-facility") return "local3";
    if (n == "rest-api-separator") return "-";
    if (n == "redis-userdb" || n == "redis-statsdb") return "ip=192.0.2.1 port=7000";
    if (n == "psql-userdb" || n == "sql-userdb") return "host=db dbname=turn";
    if (n.ends_with("api-key") || n.find("secret") != std::string::npos || n == "pkey-pwd") {
      return "0123456789abcdef0123";
    }
    if (n == "signaling-ice-url") return "turn:example.net:3478";
    if (n == "prometheus-path") return "/m";
    if (n == "realm" || n == "server-name" || n == "cert" || n == "pkey" || n == "CA-file" ||
        n == "cipher-list" || n == "log-file" || n == "pidfile" || n == "userdb" || n == "db" ||
        n.starts_with("proc-") || n == "mdns-name") {
      return "text";
    }
    return "7";  // the numbers: lifetimes, limits, timeouts, rates
  };
  // What an option needs beside it to be accepted.
  auto needs = [](const std::string& n) -> std::vector<std::pair<std::string, std::string>> {
    if (n == "signaling-api-key") {
      return {{"signaling-port", "4000"},
              {"use-auth-secret", ""},
              {"static-auth-secret", "0123456789abcdef"}};
    }
    if (n == "use-auth-secret") return {{"static-auth-secret", "0123456789abcdef"}};
    if (n == "admin-api-key") return {{"prometheus", ""}};
    if (n == "proc-group") return {{"proc-user", "text"}};
    return {};
  };
  // Secrets, and options that need one beside them.
  const std::set<std::string> hidden{
      "user",     "static-auth-secret", "nonce-secret",      "stateless-nonce-secret",
      "pkey-pwd", "admin-api-key",      "signaling-api-key", "use-auth-secret"};
  const server_config defaults;
  for (const option_spec& o : option_table()) {
    if (o.status != option_status::supported) continue;
    const std::string n(o.name);
    std::string text;
    for (const auto& [name, value] : needs(n)) {
      text += name + (value.empty() ? "" : "=" + value) + "\n";
    }
    text += n + (o.kind == option_kind::flag ? "" : "=" + value_for(n)) + "\n";
    server_config c;
    try {
      c = build_config(parse_config_text(text, "test"), {}).cfg;
    } catch (const config_error& e) {
      ADD_FAILURE() << n << ": " << e.what();
      continue;
    }
    const std::string shown = describe(c);
    server_config again;
    try {
      again = build_config(parse_config_text(shown, "dump"), {}).cfg;
    } catch (const config_error& e) {
      ADD_FAILURE() << n << ": describe() does not read back: " << e.what() << "\n" << shown;
      continue;
    }
    if (hidden.contains(n)) {
      EXPECT_NE(shown, describe(defaults)) << n << " changes nothing that is shown";
    } else {
      EXPECT_TRUE(again == c) << n << " changes what describe() does not say:\n" << shown;
    }
  }
}

}  // namespace
}  // namespace turnpike::server::config
