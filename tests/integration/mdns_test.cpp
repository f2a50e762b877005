// SPDX-License-Identifier: Apache-2.0
// mDNS/DNS-SD announcement through a real avahi-daemon: the test starts a private D-Bus
// system bus and runs avahi-daemon inside a network namespace it creates (a veth pair, no
// route out), so nothing is announced on the host's networks. Turnpike started before the
// daemon waits for it and announces STUN, TURN and the signaling page once it runs; a second
// server with the same name takes the next one; both announce again after the daemon
// restarts. Needs root
// (network namespaces); skipped otherwise, and when a system avahi-daemon is running.
#include <gtest/gtest.h>
#include <unistd.h>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <map>

#include "support/netns.hpp"
#include "support/process.hpp"

namespace turnpike::test {
namespace {

using namespace std::chrono_literals;

bool run(const std::string& command) {
  return std::system(command.c_str()) == 0;
}

// A D-Bus system bus of our own and a namespace for avahi-daemon.
class avahi_lab {
 public:
  avahi_lab() {
    char tmpl[] = "/tmp/turnpike-mdns-XXXXXX";
    dir_ = mkdtemp(tmpl);
    const std::string suffix = std::to_string(getpid() % 100000);
    netns_ = "tp-mdns-" + suffix;
    std::ofstream(dir_ + "/bus.conf")
        << "<!DOCTYPE busconfig PUBLIC \"-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN\" "
           "\"http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd\">\n"
           "<busconfig><type>system</type><listen>unix:path="
        << dir_
        << "/bus</listen><auth>EXTERNAL</auth><policy context=\"default\">"
           "<allow user=\"*\"/><allow own=\"*\"/><allow send_destination=\"*\"/>"
           "<allow receive_sender=\"*\"/></policy></busconfig>\n";
    std::ofstream(dir_ + "/avahi-daemon.conf")
        << "[server]\nuse-ipv4=yes\nuse-ipv6=no\nallow-interfaces=tpm" << suffix
        << "a\nenable-dbus=yes\n[wide-area]\nenable-wide-area=no\n[publish]\n"
           "publish-hinfo=no\npublish-workstation=no\n";
    bus_ = std::make_unique<process>(std::vector<std::string>{
        "dbus-daemon", "--config-file=" + dir_ + "/bus.conf", "--nofork", "--print-address"});
    for (int i = 0; i < 100 && !std::filesystem::exists(dir_ + "/bus"); ++i) {
      std::this_thread::sleep_for(20ms);
    }
    address_ = "unix:path=" + dir_ + "/bus";
    setenv("DBUS_SYSTEM_BUS_ADDRESS", address_.c_str(), 1);  // for every child from here on
    const std::string a = "tpm" + suffix + "a", b = "tpm" + suffix + "b";
    ok_ = run("ip netns add " + netns_) &&
          run(in_netns_command(netns_) + "ip link add " + a + " type veth peer name " + b) &&
          run(in_netns_command(netns_) + "ip link set " + a + " multicast on up") &&
          run(in_netns_command(netns_) + "ip link set " + b + " up") &&
          run(in_netns_command(netns_) + "ip addr add 192.0.2.1/24 dev " + a) &&
          run(in_netns_command(netns_) + "ip link set lo up");
  }
  ~avahi_lab() {
    stop_daemon();
    bus_.reset();
    run("ip netns del " + netns_ + " 2>/dev/null");
    std::filesystem::remove_all(dir_);
    unsetenv("DBUS_SYSTEM_BUS_ADDRESS");
  }
  bool ok() const { return ok_ && std::filesystem::exists(dir_ + "/bus"); }

  bool start_daemon() {
    std::vector<std::string> argv = in_netns(netns_);
    argv.insert(argv.end(), {"avahi-daemon", "--no-drop-root", "--no-chroot", "--no-rlimits", "-f",
                             dir_ + "/avahi-daemon.conf"});
    daemon_ = std::make_unique<process>(argv);
    return daemon_->wait_for(std::regex("Server startup complete"), 10s).has_value();
  }
  void stop_daemon() {
    if (!daemon_) return;
    daemon_->signal(SIGTERM);
    daemon_->wait_exit(10s);
    daemon_.reset();
  }

  // avahi-browse -p writes characters other than letters and digits as \DDD (decimal).
  static std::string unescape(const std::string& in) {
    std::string out;
    for (std::size_t i = 0; i < in.size(); ++i) {
      if (in[i] == '\\' && i + 3 < in.size() &&
          std::isdigit(static_cast<unsigned char>(in[i + 1])) &&
          std::isdigit(static_cast<unsigned char>(in[i + 2])) &&
          std::isdigit(static_cast<unsigned char>(in[i + 3]))) {
        out += static_cast<char>(std::stoi(in.substr(i + 1, 3)));
        i += 3;
      } else {
        out += in[i];
      }
    }
    return out;
  }

  // Resolved services: "type port" -> TXT, e.g. "_turn._udp 3478" -> "\"realm=lab\"".
  std::map<std::string, std::string> browse(const std::string& name) {
    process b({"avahi-browse", "-aprtk"});
    b.wait_exit(15s);
    std::map<std::string, std::string> out;
    std::istringstream lines(b.output());
    for (std::string line; std::getline(lines, line);) {
      if (line.rfind("=;", 0) != 0) continue;
      std::vector<std::string> f;
      std::stringstream ss(line);
      for (std::string field; std::getline(ss, field, ';');) f.push_back(field);
      // =;iface;proto;name;type;domain;host;address;port;txt
      if (f.size() < 9 || unescape(f[3]) != name) continue;
      out[f[4] + " " + f[8]] = f.size() > 9 ? f[9] : "";
    }
    return out;
  }

 private:
  std::string dir_, netns_, address_;
  std::unique_ptr<process> bus_, daemon_;
  bool ok_ = false;
};

bool system_avahi_running() {
  std::ifstream pid("/run/avahi-daemon/pid");
  int n = 0;
  return (pid >> n) && n > 0 && kill(n, 0) == 0;
}

TEST(Mdns, AnnouncesStunTurnAndSignalingOnceTheDaemonRunsAndAfterItRestarts) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root for a network namespace";
  if (system_avahi_running()) GTEST_SKIP() << "a system avahi-daemon is running";
  for (const char* tool :
       {"/usr/sbin/avahi-daemon", "/usr/bin/avahi-browse", "/usr/bin/dbus-daemon"}) {
    ASSERT_TRUE(std::filesystem::exists(tool)) << tool << " (deploy/bootstrap.sh test installs it)";
  }
  avahi_lab lab;
  ASSERT_TRUE(lab.ok());

  auto start = [](const std::string& name) {
    return std::make_unique<process>(std::vector<std::string>{
        TURNPIKE_BINARY, "-n", "-L", "127.0.0.1", "-p", "0", "-u", "u:p", "-r", "lab",
        "--relay-threads", "1", "--signaling-port", "0", "--signaling-address", "127.0.0.1",
        "--mdns", "--mdns-name", name});
  };
  // Started before the daemon: it waits.
  auto first = start("Turnpike lab");
  auto udp = first->wait_for(std::regex(R"(listening udp 127\.0\.0\.1:(\d+))"));
  ASSERT_TRUE(udp) << first->output();
  const std::string port = (*udp)[1];
  auto sig = first->wait_for(std::regex(R"(signaling on http://127\.0\.0\.1:(\d+))"));
  ASSERT_TRUE(sig) << first->output();
  ASSERT_TRUE(first->wait_for(std::regex("avahi-daemon is not running"), 10s)) << first->output();

  ASSERT_TRUE(lab.start_daemon());
  ASSERT_TRUE(first->wait_for(std::regex("announcing 'Turnpike lab' \\(5 services\\)"), 15s))
      << first->output();
  auto found = lab.browse("Turnpike lab");
  EXPECT_EQ(found.count("_stun._udp " + port), 1u);
  EXPECT_EQ(found["_turn._udp " + port], "\"realm=lab\"");
  EXPECT_EQ(found.count("_stun._tcp " + port), 1u);
  EXPECT_EQ(found["_turn._tcp " + port], "\"realm=lab\"");
  EXPECT_EQ(found["_http._tcp " + (*sig)[1].str()], "\"path=/\"");
  EXPECT_EQ(found.size(), 5u);

  // A second server with the same name takes the next one.
  auto second = start("Turnpike lab");
  auto udp2 = second->wait_for(std::regex(R"(listening udp 127\.0\.0\.1:(\d+))"));
  ASSERT_TRUE(udp2) << second->output();
  ASSERT_TRUE(second->wait_for(std::regex("announcing 'Turnpike lab #2' \\(5 services\\)"), 15s))
      << second->output();
  EXPECT_EQ(lab.browse("Turnpike lab #2").count("_turn._udp " + (*udp2)[1].str()), 1u);

  // The daemon restarts: both are announced again under the names they hold.
  const auto mark1 = first->line_count();
  const auto mark2 = second->line_count();
  lab.stop_daemon();
  ASSERT_TRUE(first->wait_for(std::regex("avahi-daemon went away"), 10s, mark1)) << first->output();
  ASSERT_TRUE(lab.start_daemon());
  EXPECT_TRUE(first->wait_for(std::regex("announcing 'Turnpike lab' \\("), 15s, mark1))
      << first->output();
  EXPECT_TRUE(second->wait_for(std::regex("announcing 'Turnpike lab #2' \\("), 15s, mark2))
      << second->output();
  EXPECT_EQ(lab.browse("Turnpike lab").count("_turn._udp " + port), 1u);

  for (auto* p : {first.get(), second.get()}) {
    p->signal(SIGTERM);
    EXPECT_EQ(p->wait_exit(), 0) << p->output();
  }
}

}  // namespace
}  // namespace turnpike::test
