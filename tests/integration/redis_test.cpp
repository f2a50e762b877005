// SPDX-License-Identifier: Apache-2.0
// redis-userdb against a real redis-server started on a free loopback port: a user added with
// turnpike-admin and one written by hand with redis-cli in coturn's layout (the key coturn's
// turnadmin -k prints) both relay with turnutils_uclient; a deleted user is refused once the
// cache lifetime has passed; TURN REST secrets kept in Redis rotate; Redis killed mid-run:
// the running session keeps relaying, a cached user still gets in, an unknown one gets a
// 500-class answer, and after Redis restarts the server reconnects by itself. Fleet-wide
// quotas with two servers sharing the Redis; redis-statsdb reports.
#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

#include <thread>

#include "support/process.hpp"
#include "support/redis.hpp"
#include "support/stun_client.hpp"
#include "support/uclient.hpp"

namespace turnpike::test {
namespace {

using namespace std::chrono_literals;

// uclient -y -c -m 2 runs one pair of clients relaying to each other: each message is counted
// once per direction.
bool clean(const uclient_result& r, long messages) {
  return r.sent == 2 * messages && r.received == 2 * messages && r.zero_loss;
}

// Turnpike on loopback, port 0, realm "test", two shards, with `redis` as its redis-userdb,
// once it has connected.
std::unique_ptr<process> start_with_redis(const redis_server& redis,
                                          const std::vector<std::string>& extra) {
  std::vector<std::string> argv{TURNPIKE_BINARY,
                                "-n",
                                "-L",
                                "127.0.0.1",
                                "-p",
                                "0",
                                "-r",
                                "test",
                                "--redis-userdb",
                                redis.connection(),
                                "--relay-threads",
                                "2"};
  argv.insert(argv.end(), extra.begin(), extra.end());
  auto p = std::make_unique<process>(argv);
  EXPECT_TRUE(p->wait_for(std::regex(R"(listening udp 127\.0\.0\.1:(\d+))"))) << p->output();
  EXPECT_TRUE(p->wait_for(std::regex("redis-userdb .* connected"), 10s)) << p->output();
  return p;
}

// Its UDP port (0 when it did not start).
std::uint16_t udp_port(process& p) {
  auto m = p.wait_for(std::regex(R"(listening udp 127\.0\.0\.1:(\d+))"));
  return m ? static_cast<std::uint16_t>(std::stoi((*m)[1])) : 0;
}

class RedisTest : public ::testing::Test {
 protected:
  void start_server(std::vector<std::string> extra = {}) {
    extra.insert(extra.end(), {"--redis-cache-ttl", "1", "--allow-loopback-peers"});
    server_ = start_with_redis(redis_, extra);
    port_ = std::to_string(udp_port(*server_));
  }
  void TearDown() override {
    if (server_) {
      server_->signal(SIGTERM);
      EXPECT_EQ(server_->wait_exit(), 0) << server_->output();
    }
  }
  std::string admin(std::vector<std::string> args) {
    std::vector<std::string> argv{TURNPIKE_ADMIN_BINARY, "-N", redis_.connection()};
    argv.insert(argv.end(), args.begin(), args.end());
    process p(argv);
    EXPECT_EQ(p.wait_exit(), 0) << p.output();
    return p.output();
  }
  // uclient with `auth` (-u/-w or -W flags), `messages` messages, one pair of clients, each
  // relaying to the other's relayed address over a channel (-y, no RTCP allocations: -c).
  // Client to client, each allocation binds one channel; relaying to turnutils_peer, uclient
  // binds two random numbers on one allocation, equal in 1 run of 16 384, which the server
  // must refuse (support/uclient.hpp).
  uclient_result uclient(std::vector<std::string> auth, int messages = 20,
                         std::vector<std::string> more = {}) {
    std::vector<std::string> argv = auth;
    argv.insert(argv.end(), more.begin(), more.end());
    argv.insert(argv.end(),
                {"-y", "-c", "-n", std::to_string(messages), "-m", "2", "-p", port_, "127.0.0.1"});
    return run_uclient(argv);
  }
  // The final answer code of an Allocate with long-term credentials (0: allocated).
  int allocate(const std::string& name, const std::string& password) {
    stun_client c(SOCK_DGRAM, *protocol::transport_address::parse_ip(
                                  "127.0.0.1", static_cast<std::uint16_t>(std::stoi(port_))));
    return c.allocate(name, password);
  }
  static std::vector<std::string> user(const std::string& name, const std::string& password) {
    return {"-u", name, "-w", password};
  }

  redis_server redis_;
  std::unique_ptr<process> server_;
  std::string port_;
};

// The key coturn's own turnadmin computes, to store by hand as coturn would.
std::string turnadmin_key(const std::string& user, const std::string& realm,
                          const std::string& password) {
  process p({"turnadmin", "-k", "-u", user, "-r", realm, "-p", password});
  p.wait_exit();
  std::smatch m;
  const std::string out = p.output();
  if (!std::regex_search(out, m, std::regex("0x([0-9a-f]{32})"))) return {};
  return m[1];
}

TEST_F(RedisTest, AdminAddedAndHandWrittenUsersAllocateAndDeletedUsersAreRefused) {
  admin({"-a", "-u", "alice", "-r", "test", "-p", "alice-pw"});
  const std::string key = turnadmin_key("bob", "test", "bob-pw");
  ASSERT_EQ(key.size(), 32u);
  EXPECT_NE(redis_.cli({"SET", "turn/realm/test/user/bob/key", key}).find("OK"), std::string::npos);
  const std::string listed = admin({"-l", "-r", "test"});
  EXPECT_NE(listed.find("alice\ttest"), std::string::npos) << listed;
  EXPECT_NE(listed.find("bob\ttest"), std::string::npos) << listed;
  start_server();
  auto a = uclient(user("alice", "alice-pw"));
  EXPECT_TRUE(clean(a, 20)) << a.output;
  auto b = uclient(user("bob", "bob-pw"));
  EXPECT_TRUE(clean(b, 20)) << b.output;
  EXPECT_FALSE(clean(uclient(user("alice", "wrong")), 20));
  // Deleted: refused once the cache lifetime (1 s here) has passed.
  admin({"-d", "-u", "alice", "-r", "test"});
  std::this_thread::sleep_for(1500ms);
  EXPECT_EQ(allocate("alice", "alice-pw"), 401);
  EXPECT_FALSE(clean(uclient(user("alice", "alice-pw")), 20));
}

TEST_F(RedisTest, RestSecretsInRedisRotate) {
  admin({"-s", "first-secret", "-r", "test"});
  start_server({"--use-auth-secret"});
  auto first = uclient({"-u", "carol", "-W", "first-secret"});
  EXPECT_TRUE(clean(first, 20)) << first.output;
  // Rotation: the new secret is added, then the old one removed.
  admin({"-s", "second-secret", "-r", "test"});
  std::this_thread::sleep_for(1500ms);
  EXPECT_TRUE(clean(uclient({"-u", "carol", "-W", "second-secret"}), 20));
  EXPECT_TRUE(clean(uclient({"-u", "carol", "-W", "first-secret"}), 20));
  admin({"-X", "first-secret", "-r", "test"});
  EXPECT_EQ(admin({"-S", "-r", "test"}), "second-secret\n");
  std::this_thread::sleep_for(1500ms);
  EXPECT_FALSE(clean(uclient({"-u", "carol", "-W", "first-secret"}), 20));
  EXPECT_TRUE(clean(uclient({"-u", "carol", "-W", "second-secret"}), 20));
}

TEST_F(RedisTest, RealmPeerListsFromRedis) {
  admin({"-a", "-u", "olga", "-r", "test", "-p", "pw"});
  start_server();  // --allow-loopback-peers: the other client's relay on 127.0.0.1 is reachable
  EXPECT_TRUE(clean(uclient(user("olga", "pw")), 20));
  redis_.cli({"SADD", "turn/realm/test/denied-peer-ip", "127.0.0.0/8", "not-a-range"});
  ASSERT_TRUE(server_->wait_for(std::regex("denied-peer-ip=1"), 5s)) << server_->output();
  EXPECT_TRUE(server_->wait_for(std::regex("ignoring denied-peer-ip=not-a-range")));
  EXPECT_FALSE(clean(uclient(user("olga", "pw")), 20));
  const std::size_t mark = server_->line_count();
  redis_.cli({"DEL", "turn/realm/test/denied-peer-ip"});
  ASSERT_TRUE(server_->wait_for(std::regex("denied-peer-ip=0"), 5s, mark)) << server_->output();
  EXPECT_TRUE(clean(uclient(user("olga", "pw")), 20));
}

TEST_F(RedisTest, RedisKilledMidRunAndRestarted) {
  admin({"-a", "-u", "dave", "-r", "test", "-p", "dave-pw"});
  start_server();
  ASSERT_TRUE(clean(uclient(user("dave", "dave-pw")), 20));
  // A session of ~4 s (200 messages, 20 ms apart) with Redis killed 1 s in.
  std::thread killer([&] {
    std::this_thread::sleep_for(1s);
    redis_.kill();
  });
  auto during = uclient(user("dave", "dave-pw"), 200);
  killer.join();
  EXPECT_TRUE(clean(during, 200)) << during.output;
  ASSERT_TRUE(server_->wait_for(std::regex("redis-userdb .* unreachable"), 10s))
      << server_->output();
  const std::size_t mark = server_->line_count();
  // Redis down: the cached user still gets in; one never seen gets 500, not 401.
  auto cached = uclient(user("dave", "dave-pw"));
  EXPECT_TRUE(clean(cached, 20)) << cached.output;
  EXPECT_EQ(allocate("erin", "erin-pw"), 500);
  EXPECT_EQ(allocate("dave", "dave-pw"), 0);
  // Redis back (empty: no persistence): the server reconnects by itself.
  redis_.start();
  admin({"-a", "-u", "erin", "-r", "test", "-p", "erin-pw"});
  ASSERT_TRUE(server_->wait_for(std::regex("redis-userdb .* connected"), 15s, mark))
      << server_->output();
  auto back = uclient(user("erin", "erin-pw"));
  EXPECT_TRUE(clean(back, 20)) << back.output;
}

TEST_F(RedisTest, BlackHoledRedisBoundsAuthLatencyWithoutSpinningAndRecovers) {
  admin({"-a", "-u", "dave", "-r", "test", "-p", "dave-pw"});
  admin({"-a", "-u", "erin", "-r", "test", "-p", "erin-pw"});
  start_server();
  EXPECT_EQ(allocate("dave", "dave-pw"), 0);  // cached from now on
  // Redis stops answering but keeps the connection open.
  redis_.freeze();
  std::this_thread::sleep_for(1500ms);  // dave's cache entry (1 s) is stale, still served
  const double cpu_before = cpu_seconds(server_->pid());
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_EQ(allocate("erin", "erin-pw"), 500);  // never cached: the store cannot answer
  const auto waited = std::chrono::steady_clock::now() - t0;
  EXPECT_LT(waited, 4s);  // a 1 s command timeout per attempt, not the client's patience
  EXPECT_EQ(allocate("dave", "dave-pw"), 0);  // stale cache entry served during the outage
  std::this_thread::sleep_for(2s);
  EXPECT_LT(cpu_seconds(server_->pid()) - cpu_before, 0.5);  // no spinning while it waits
  const std::size_t mark = server_->line_count();
  redis_.thaw();
  ASSERT_TRUE(server_->wait_for(std::regex("redis-userdb .* connected"), 15s, mark))
      << server_->output();
  EXPECT_EQ(allocate("erin", "erin-pw"), 0) << server_->output();
}

// Two servers sharing one Redis: user-quota=1 holds across them, a deleted allocation frees
// the slot at once, a killed server's lease runs out after redis-lease-ttl, a realm limit set
// with turnpike-admin -O applies fleet-wide, and after a Redis restart the live leases are
// written again (the count is not lost).
class FleetQuotaTest : public ::testing::Test {
 protected:
  std::unique_ptr<process> start() {
    auto p = start_with_redis(redis_, {"--user-quota", "1", "--redis-lease-ttl", "3"});
    ports_.push_back(udp_port(*p));
    return p;
  }
  stun_client client(std::size_t server) {
    return stun_client(SOCK_DGRAM,
                       *protocol::transport_address::parse_ip("127.0.0.1", ports_.at(server)));
  }
  void add_user(const std::string& name) {
    process p({TURNPIKE_ADMIN_BINARY, "-N", redis_.connection(), "-a", "-u", name, "-r", "test",
               "-p", "pw"});
    EXPECT_EQ(p.wait_exit(), 0) << p.output();
  }
  // Whether an Allocate for `name` on `server` is granted within 2 s (the allocation stays):
  // a lease given back on another server reaches Redis one round trip after its answer.
  bool granted_eventually(std::size_t server, const std::string& name) {
    for (int i = 0; i < 40; ++i) {
      if (client(server).allocate(name, "pw") == 0) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return false;
  }
  redis_server redis_;
  std::vector<std::uint16_t> ports_;
};

TEST_F(FleetQuotaTest, UserQuotaHoldsAcrossServers) {
  add_user("frank");
  add_user("grace");
  auto a = start();
  auto b = start();
  auto on_a = client(0);
  ASSERT_EQ(on_a.allocate("frank", "pw"), 0);
  auto on_b = client(1);
  EXPECT_EQ(on_b.allocate("frank", "pw"), 486);     // frank's one allocation is on A
  EXPECT_EQ(client(1).allocate("grace", "pw"), 0);  // another user is not affected
  // Deleted on A: B grants once A's release has reached Redis (a round trip after the
  // answer to the Refresh).
  EXPECT_EQ(on_a.refresh(0), 0);
  ASSERT_TRUE(granted_eventually(1, "frank"));
  // B dies without a word: its lease keeps counting until redis-lease-ttl (3 s) runs out.
  b->signal(SIGKILL);
  b->wait_exit();
  EXPECT_EQ(client(0).allocate("frank", "pw"), 486);
  std::this_thread::sleep_for(3500ms);
  auto after = client(0);
  EXPECT_EQ(after.allocate("frank", "pw"), 0);
  // Redis restarted empty: A's live lease is written again by its next renewal (every 1 s
  // here), so the count survives.
  redis_.kill();
  redis_.start();
  add_user("frank");
  std::this_thread::sleep_for(2500ms);
  auto c = start();
  EXPECT_EQ(client(2).allocate("frank", "pw"), 486);
  EXPECT_EQ(after.refresh(0), 0);
  EXPECT_TRUE(granted_eventually(2, "frank"));
  for (auto* p : {a.get(), c.get()}) {
    p->signal(SIGTERM);
    EXPECT_EQ(p->wait_exit(), 0) << p->output();
  }
}

TEST_F(FleetQuotaTest, RealmLimitsFromRedis) {
  add_user("heidi");
  add_user("ivan");
  process o({TURNPIKE_ADMIN_BINARY, "-N", redis_.connection(), "-O", "-r", "test", "--user-quota",
             "2", "--total-quota", "3"});
  ASSERT_EQ(o.wait_exit(), 0) << o.output();
  auto a = start();
  auto b = start();
  // user-quota 2 from Redis overrides the configured 1; total-quota 3 over both servers.
  auto h1 = client(0), h2 = client(1), h3 = client(0), i1 = client(1), i2 = client(0);
  EXPECT_EQ(h1.allocate("heidi", "pw"), 0);
  EXPECT_EQ(h2.allocate("heidi", "pw"), 0);
  EXPECT_EQ(h3.allocate("heidi", "pw"), 486);
  EXPECT_EQ(i1.allocate("ivan", "pw"), 0);
  EXPECT_EQ(i2.allocate("ivan", "pw"), 486);  // the realm's three are in use
  for (auto* p : {a.get(), b.get()}) {
    p->signal(SIGTERM);
    EXPECT_EQ(p->wait_exit(), 0) << p->output();
  }
}

// redis-statsdb in coturn's format: the status key (with a TTL) and its publications, the
// traffic publications, and a foreign server's key left alone.
TEST(RedisStatsdb, AllocationStatusAndTrafficInCoturnFormat) {
  redis_server redis;
  const std::string foreign = "turn/realm/test/user/judy/allocation/000000000000000042/status";
  redis.cli({"SET", foreign, "new lifetime=600"});
  process watcher({"redis-cli", "-h", "127.0.0.1", "-p", std::to_string(redis.port()), "PSUBSCRIBE",
                   "turn/realm/*"});
  ASSERT_TRUE(watcher.wait_for(std::regex("psubscribe"), 5s)) << watcher.output();
  process server({TURNPIKE_BINARY, "-n", "-L", "127.0.0.1", "-p", "0", "-r", "test", "-u",
                  "kate:pw", "--redis-statsdb", redis.connection(), "--relay-threads", "1"});
  auto m = server.wait_for(std::regex(R"(listening udp 127\.0\.0\.1:(\d+))"));
  ASSERT_TRUE(m) << server.output();
  stun_client c(SOCK_DGRAM, *protocol::transport_address::parse_ip(
                                "127.0.0.1", static_cast<std::uint16_t>(std::stoi((*m)[1]))));
  ASSERT_EQ(c.allocate("kate", "pw"), 0);
  const std::regex key_re(R"((turn/realm/test/user/kate/allocation/\d{18}/status))");
  auto published = watcher.wait_for(key_re, 5s);
  ASSERT_TRUE(published) << watcher.output();
  const std::string key = (*published)[1];
  EXPECT_TRUE(watcher.wait_for(std::regex("^new lifetime=600$"), 5s)) << watcher.output();
  EXPECT_NE(redis.cli({"GET", key}).find("new lifetime=600"), std::string::npos);
  const long ttl = std::stol(redis.cli({"TTL", key}));
  EXPECT_GT(ttl, 590);
  EXPECT_LE(ttl, 600);
  ASSERT_EQ(c.refresh(1200), 0);
  EXPECT_TRUE(watcher.wait_for(std::regex("^refreshed lifetime=1200$"), 5s)) << watcher.output();
  EXPECT_TRUE(watcher.wait_for(std::regex("^rcvp=0, rcvb=0, sentp=0, sentb=0$"), 5s))
      << watcher.output();
  EXPECT_NE(redis.cli({"GET", key}).find("refreshed lifetime=1200"), std::string::npos);
  ASSERT_EQ(c.refresh(0), 0);
  EXPECT_TRUE(watcher.wait_for(std::regex("^deleted$"), 5s)) << watcher.output();
  EXPECT_TRUE(watcher.wait_for(std::regex("/total_traffic$"), 5s)) << watcher.output();
  EXPECT_EQ(redis.cli({"EXISTS", key}), "0\n");
  server.signal(SIGTERM);
  EXPECT_EQ(server.wait_exit(), 0) << server.output();
  EXPECT_EQ(redis.cli({"GET", foreign}), "new lifetime=600\n");
}

TEST(RedisConfig, BadConnectionStringStopsStartup) {
  process s({TURNPIKE_BINARY, "-n", "-L", "127.0.0.1", "-p", "0", "--redis-userdb",
             "ip=127.0.0.1 prot=6379"});
  EXPECT_EQ(s.wait_exit(), 1);
  EXPECT_NE(s.output().find("redis-userdb: unknown key 'prot'"), std::string::npos) << s.output();
}

}  // namespace
}  // namespace turnpike::test
