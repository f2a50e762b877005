// SPDX-License-Identifier: Apache-2.0
// deploy/ stays true to the server: the Grafana dashboard is valid JSON and every metric its
// queries and the Prometheus alert rules name is one the server exports (taken from a live
// scrape of a server with Redis, statsdb and metrics on), the YAML files parse and every
// alert rule is complete, promtool accepts the rules when it is installed (Debian's
// prometheus package, not installed by the test setup because it starts a daemon), and the
// systemd unit passes `systemd-analyze verify` without a warning.
#include <gtest/gtest.h>

#include <boost/json/src.hpp>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "support/http.hpp"
#include "support/process.hpp"
#include "support/redis.hpp"

namespace turnpike::test {
namespace {

using namespace std::chrono_literals;

const std::string deploy_dir = TURNPIKE_SOURCE_DIR "/deploy";

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// Every series name the server can serve: from the # TYPE lines of a scrape (histograms also
// under _bucket, _sum and _count).
std::set<std::string> exported_names() {
  redis_server redis;
  process s({TURNPIKE_BINARY, "-n", "-L", "127.0.0.1", "-p", "0", "-r", "test", "--redis-userdb",
             redis.connection(), "--redis-statsdb", redis.connection(), "--prometheus",
             "--prometheus-address", "127.0.0.1", "--prometheus-port", "0", "--relay-threads",
             "1"});
  auto m = s.wait_for(std::regex(R"(metrics on http://127\.0\.0\.1:(\d+)/metrics)"));
  EXPECT_TRUE(m) << s.output();
  std::set<std::string> names;
  if (!m) return names;
  const auto body = http_get(static_cast<std::uint16_t>(std::stoi((*m)[1])), "/metrics").body;
  const std::regex type_line(R"(# TYPE (\w+) (\w+))");
  for (auto it = std::sregex_iterator(body.begin(), body.end(), type_line);
       it != std::sregex_iterator(); ++it) {
    const std::string name = (*it)[1];
    names.insert(name);
    if ((*it)[2] == "histogram") {
      for (const char* suffix : {"_bucket", "_sum", "_count"}) names.insert(name + suffix);
    }
  }
  s.signal(SIGTERM);
  s.wait_exit();
  return names;
}

// Metric names in a PromQL text (Turnpike's and the process_* ones).
std::set<std::string> referenced(const std::string& text) {
  std::set<std::string> out;
  const std::regex metric(R"(\b((?:turnpike|process)_[a-z_]+)\b)");
  for (auto it = std::sregex_iterator(text.begin(), text.end(), metric);
       it != std::sregex_iterator(); ++it) {
    out.insert((*it)[1]);
  }
  return out;
}

void collect_exprs(const boost::json::value& v, std::string& out) {
  if (v.is_object()) {
    for (const auto& [key, child] : v.as_object()) {
      if (key == "expr" && child.is_string()) out.append(child.as_string().c_str()).append("\n");
      collect_exprs(child, out);
    }
  } else if (v.is_array()) {
    for (const auto& child : v.as_array()) collect_exprs(child, out);
  }
}

TEST(Deploy, DashboardAndAlertsUseExportedMetrics) {
  const auto names = exported_names();
  ASSERT_GT(names.size(), 30u);
  ASSERT_TRUE(names.contains("turnpike_redis_round_trip_seconds_bucket"));

  boost::system::error_code ec;
  const auto dashboard =
      boost::json::parse(read_file(deploy_dir + "/grafana/turnpike-dashboard.json"), ec);
  ASSERT_FALSE(ec) << "dashboard JSON: " << ec.message();
  std::string exprs;
  collect_exprs(dashboard, exprs);
  const auto used = referenced(exprs);
  EXPECT_GT(used.size(), 20u);
  for (const auto& name : used) EXPECT_TRUE(names.contains(name)) << "dashboard uses " << name;

  const std::string rules = read_file(deploy_dir + "/prometheus/alerts.yml");
  const auto alerted = referenced(rules);
  EXPECT_GT(alerted.size(), 8u);
  for (const auto& name : alerted) EXPECT_TRUE(names.contains(name)) << "alerts use " << name;
}

// The rules file and the Compose/Kubernetes/Prometheus YAML parse, and every rule has a name,
// an expression and a severity (python3-yaml; promtool below checks PromQL when present).
TEST(Deploy, YamlFilesParseAndRulesAreComplete) {
  const std::string check = R"py(
import sys, yaml
for path in sys.argv[1:]:
    docs = list(yaml.safe_load_all(open(path)))
    assert docs and all(d is not None for d in docs), path
rules = yaml.safe_load(open(sys.argv[1]))
n = 0
for group in rules["groups"]:
    for rule in group["rules"]:
        assert rule["alert"] and rule["expr"] and rule["labels"]["severity"], rule
        n += 1
print("rules", n)
)py";
  process p({"python3", "-c", check, deploy_dir + "/prometheus/alerts.yml",
             deploy_dir + "/prometheus/prometheus.yml", deploy_dir + "/compose.yaml",
             deploy_dir + "/kubernetes/turnpike.yaml",
             deploy_dir + "/grafana/provisioning/datasources/prometheus.yml",
             deploy_dir + "/grafana/provisioning/dashboards/turnpike.yml"});
  EXPECT_EQ(p.wait_exit(30s), 0) << p.output();
  EXPECT_NE(p.output().find("rules 14"), std::string::npos) << p.output();
}

TEST(Deploy, PromtoolAcceptsTheRulesWhenInstalled) {
  if (!std::filesystem::exists("/usr/bin/promtool")) {
    GTEST_SKIP() << "promtool not installed (Debian package prometheus)";
  }
  process p({"promtool", "check", "rules", deploy_dir + "/prometheus/alerts.yml"});
  EXPECT_EQ(p.wait_exit(30s), 0) << p.output();
}

TEST(Deploy, SystemdUnitVerifiesWithoutWarnings) {
  // systemd-analyze checks that ExecStart exists: point it at the binary under test.
  std::string unit = read_file(deploy_dir + "/turnpike.service");
  const std::string installed = "ExecStart=/usr/local/bin/turnpike ";
  ASSERT_NE(unit.find(installed), std::string::npos);
  unit.replace(unit.find(installed), installed.size(),
               "ExecStart=" + std::string(TURNPIKE_BINARY) + " ");
  char dir[] = "/tmp/turnpike-unit-XXXXXX";
  ASSERT_NE(mkdtemp(dir), nullptr);
  const std::string path = std::string(dir) + "/turnpike.service";
  std::ofstream(path) << unit;
  process v({"systemd-analyze", "verify", path});
  EXPECT_EQ(v.wait_exit(60s), 0) << v.output();
  EXPECT_EQ(v.output(), "") << v.output();
  std::filesystem::remove_all(dir);
}

TEST(Deploy, DebianPackageHoldsTheServiceAndLintianFindsNoError) {
#ifdef TURNPIKE_SANITIZED
  GTEST_SKIP() << "the package is built from the Release tree, not the sanitizer one";
#else
  if (!std::filesystem::exists("/usr/bin/lintian")) GTEST_SKIP() << "lintian not installed";
  char dir[] = "/tmp/turnpike-deb-XXXXXX";
  ASSERT_NE(mkdtemp(dir), nullptr);
  process pack(
      {"cpack", "-G", "DEB", "--config", TURNPIKE_BUILD_DIR "/CPackConfig.cmake", "-B", dir});
  ASSERT_EQ(pack.wait_exit(300s), 0) << pack.output();
  const std::string deb =
      std::string(dir) + "/turnpike_" TURNPIKE_VERSION "_" + TURNPIKE_DEB_ARCH + ".deb";
  ASSERT_TRUE(std::filesystem::exists(deb)) << pack.output();

  process contents({"dpkg-deb", "--contents", deb});
  ASSERT_EQ(contents.wait_exit(30s), 0) << contents.output();
  for (const char* path :
       {"./usr/bin/turnpike", "./usr/bin/turnpike-admin", "./lib/systemd/system/turnpike.service",
        "./etc/turnpike/turnserver.conf", "./usr/share/doc/turnpike/copyright",
        "./usr/share/doc/turnpike/changelog.gz"}) {
    EXPECT_NE(contents.output().find(path), std::string::npos) << path << "\n" << contents.output();
  }
  process control({"dpkg-deb", "--field", deb, "Depends"});
  ASSERT_EQ(control.wait_exit(30s), 0) << control.output();
  for (const char* dependency : {"adduser", "libhiredis", "libsqlite3", "libpq5", "libssl3"}) {
    EXPECT_NE(control.output().find(dependency), std::string::npos) << control.output();
  }
  process conffiles({"sh", "-c", "dpkg-deb --ctrl-tarfile " + deb + " | tar -xO ./conffiles"});
  conffiles.wait_exit(30s);
  EXPECT_EQ(conffiles.output(), "/etc/turnpike/turnserver.conf\n");

  // The unit as packaged: the binary in /usr/bin, the package's system user.
  process unit(
      {"sh", "-c",
       "dpkg-deb --fsys-tarfile " + deb + " | tar -xO ./lib/systemd/system/turnpike.service"});
  unit.wait_exit(30s);
  EXPECT_NE(unit.output().find("ExecStart=/usr/bin/turnpike -c /etc/turnpike/turnserver.conf"),
            std::string::npos)
      << unit.output();
  EXPECT_NE(unit.output().find("User=turnpike"), std::string::npos) << unit.output();
  EXPECT_EQ(unit.output().find("DynamicUser"), std::string::npos) << unit.output();

  process lint({"lintian", "--no-tag-display-limit", deb});
  lint.wait_exit(300s);
  EXPECT_EQ(lint.output().find("E: "), std::string::npos) << lint.output();
  std::printf("lintian:\n%s", lint.output().c_str());
  std::filesystem::remove_all(dir);
#endif
}

}  // namespace
}  // namespace turnpike::test
