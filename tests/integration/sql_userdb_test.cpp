// SPDX-License-Identifier: Apache-2.0
// coturn's SQL user databases with the real binary: a user and a TURN REST secret written by
// coturn's own turnadmin into SQLite (-b) and into a real PostgreSQL (-e) authenticate
// turnutils_uclient; a wrong password does not. The database goes away mid-run (SQLite held
// under an exclusive lock by another connection; PostgreSQL stopped): a user already looked up
// still gets in, one never seen gets 500, and both work again once it is back.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <filesystem>

#include "support/postgres.hpp"
#include "support/process.hpp"
#include "support/stun_client.hpp"
#include "support/turn_session.hpp"
#include "support/uclient.hpp"

namespace turnpike::test {
namespace {

using namespace std::chrono_literals;
const std::string realm = "sql.test";

// coturn's turnadmin with `args`; the log file it opens under /var/log is removed again.
void turnadmin(std::vector<std::string> args) {
  args.insert(args.begin(), "turnadmin");
  process p(args);
  const auto rc = p.wait_exit(30s);
  const std::string out = p.output();
  const std::regex opened(R"(log file opened: (\S+))");
  for (auto it = std::sregex_iterator(out.begin(), out.end(), opened); it != std::sregex_iterator();
       ++it) {
    std::filesystem::remove((*it)[1].str());
  }
  ASSERT_EQ(rc, 0) << out;
}

// turnpike-admin with `args`; returns its exit code and output.
std::pair<int, std::string> turnpike_admin(std::vector<std::string> args) {
  args.insert(args.begin(), TURNPIKE_ADMIN_BINARY);
  process p(args);
  const auto rc = p.wait_exit(30s);
  return {rc.value_or(-1), p.output()};
}

class SqlUserdbTest : public ::testing::Test {
 protected:
  // `db_args`: turnadmin's and Turnpike's way to name the database (-b FILE / -e CONNINFO).
  void write_users(const std::vector<std::string>& db_args) {
    auto with = [&](std::vector<std::string> a) {
      a.insert(a.end(), db_args.begin(), db_args.end());
      return a;
    };
    turnadmin(with({"-a", "-u", "alice", "-r", realm, "-p", "alice-password"}));
    turnadmin(with({"-a", "-u", "carol", "-r", realm, "-p", "carol-password"}));
    turnadmin(with({"-s", "rest-secret-from-turnadmin", "-r", realm}));
  }
  void start_server(const std::vector<std::string>& db_option) {
    std::vector<std::string> argv{TURNPIKE_BINARY,
                                  "-n",
                                  "-L",
                                  "127.0.0.1",
                                  "-p",
                                  "0",
                                  "-r",
                                  realm,
                                  "--lt-cred-mech",
                                  "--use-auth-secret",
                                  "--redis-cache-ttl",
                                  "0",
                                  "--allow-loopback-peers",
                                  "--relay-threads",
                                  "2"};
    argv.insert(argv.end(), db_option.begin(), db_option.end());
    server_ = std::make_unique<process>(argv);
    const auto udp = server_->wait_for(std::regex(R"(listening udp 127\.0\.0\.1:(\d+))"));
    ASSERT_TRUE(udp) << server_->output();
    ASSERT_TRUE(server_->wait_for(std::regex("iceServers"))) << server_->output();
    port_ = static_cast<std::uint16_t>(std::stoi((*udp)[1].str()));
  }
  void TearDown() override {
    if (!server_) return;
    server_->signal(SIGTERM);
    EXPECT_EQ(server_->wait_exit(), 0) << server_->output();
  }
  uclient_result uclient(std::vector<std::string> credentials) {
    std::vector<std::string> argv{"-y", "-c", "-m", "1", "-n", "20", "-l", "120"};
    argv.insert(argv.end(), credentials.begin(), credentials.end());
    argv.insert(argv.end(), {"-p", std::to_string(port_), "127.0.0.1"});
    return run_uclient(argv);
  }
  // The answer to an Allocate; one that succeeds is deleted again (an allocation outlives its
  // client's socket, and would count against a quota).
  int allocate(const std::string& user, const std::string& password) {
    turn_session s(SOCK_DGRAM, *protocol::transport_address::parse_ip("127.0.0.1", port_), user,
                   password);
    const int code = s.allocate().code;
    if (code == 0) {
      EXPECT_EQ(s.remove().code, 0);
    }
    return code;
  }
  // Users and secrets as turnadmin wrote them authenticate; a wrong password does not.
  void expect_turnadmin_users_authenticate() {
    const auto user = uclient({"-u", "alice", "-w", "alice-password"});
    EXPECT_EQ(user.sent, 40) << user.output;
    EXPECT_TRUE(user.zero_loss) << user.output;
    // TURN REST credentials (timestamp:name, HMAC of the secret turnadmin stored).
    const auto rest = uclient({"-u", "bob", "-W", "rest-secret-from-turnadmin"});
    EXPECT_EQ(rest.sent, 40) << rest.output;
    EXPECT_TRUE(rest.zero_loss) << rest.output;
    EXPECT_EQ(allocate("alice", "wrong-password"), 401);
    EXPECT_EQ(allocate("nobody", "x"), 401);
  }

  std::unique_ptr<process> server_;
  std::uint16_t port_ = 0;
};

TEST_F(SqlUserdbTest, SqliteWrittenByTurnadmin) {
  const std::string db = testing::TempDir() + "/turnpike-userdb-" + std::to_string(::getpid());
  std::filesystem::remove(db);
  write_users({"-b", db});
  start_server({"--userdb", db});
  expect_turnadmin_users_authenticate();

  // Another connection holds the database under an exclusive lock: the server cannot read.
  sqlite3* holder = nullptr;
  ASSERT_EQ(sqlite3_open(db.c_str(), &holder), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(holder, "BEGIN EXCLUSIVE", nullptr, nullptr, nullptr), SQLITE_OK);
  // redis-cache-ttl=0: every lookup asks the database, and a failed one falls back on what
  // was read before.
  EXPECT_EQ(allocate("alice", "alice-password"), 0);    // served from the cache
  EXPECT_EQ(allocate("carol", "carol-password"), 500);  // never looked up: unknown
  ASSERT_EQ(sqlite3_exec(holder, "COMMIT", nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(holder);
  EXPECT_EQ(allocate("carol", "carol-password"), 0);  // back
  std::filesystem::remove(db);
}

TEST_F(SqlUserdbTest, PostgresqlWrittenByTurnadmin) {
  if (const auto why = postgres_server::missing(); !why.empty()) GTEST_SKIP() << why;
  postgres_server pg;
  ASSERT_EQ(pg.psql("postgres", "CREATE DATABASE coturn").first, 0);
  const auto [rc, out] = pg.psql("coturn", "/usr/share/coturn/schema.sql");
  ASSERT_EQ(rc, 0) << out;
  write_users({"-e", pg.conninfo("coturn")});
  // turnpike-admin -e writes the same table.
  EXPECT_EQ(turnpike_admin({"-e", pg.conninfo("coturn"), "-a", "-u", "dave", "-r", realm, "-p",
                            "dave-password"})
                .first,
            0);
  start_server({"--psql-userdb", pg.conninfo("coturn")});
  expect_turnadmin_users_authenticate();
  EXPECT_EQ(allocate("dave", "dave-password"), 0);

  pg.stop();
  EXPECT_EQ(allocate("alice", "alice-password"), 0);  // served from the cache
  EXPECT_EQ(allocate("carol", "carol-password"), 500);
  pg.start();
  // The connection is opened again at most once a second.
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  int carol = 500;
  while (carol == 500 && std::chrono::steady_clock::now() < deadline) {
    carol = allocate("carol", "carol-password");
    if (carol == 500) std::this_thread::sleep_for(200ms);
  }
  EXPECT_EQ(carol, 0) << server_->output();
}

TEST_F(SqlUserdbTest, TurnpikeAdminWritesWhatTurnadminAndTheServerRead) {
  // A file turnpike-admin makes: coturn's turnadmin reads it, and so does the server.
  const std::string db = testing::TempDir() + "/turnpike-admin-db-" + std::to_string(::getpid());
  std::filesystem::remove(db);
  auto admin = [&](std::vector<std::string> args) {
    args.insert(args.begin(), {"-b", db});
    return turnpike_admin(args);
  };
  EXPECT_EQ(admin({"-a", "-u", "dave", "-r", realm, "-p", "dave-password"}).first, 0);
  EXPECT_EQ(admin({"-a", "-u", "erin", "-r", realm, "-p", "erin-password"}).first, 0);
  EXPECT_EQ(admin({"-s", "admin-rest-secret", "-r", realm}).first, 0);
  EXPECT_EQ(admin({"-O", "-r", realm, "--max-bps", "500000", "--user-quota", "1"}).first, 0);
  EXPECT_EQ(admin({"-l", "-r", realm}).second, "dave\t" + realm + "\nerin\t" + realm + "\n");
  EXPECT_EQ(admin({"-S", "-r", realm}).second, "admin-rest-secret\n");
  EXPECT_EQ(admin({"-R", "-r", realm}).second, "max-bps=500000\nuser-quota=1\n");
  {
    process listed({"turnadmin", "-l", "-b", db});
    listed.wait_exit(30s);
    EXPECT_NE(listed.output().find("dave"), std::string::npos) << listed.output();
    const std::regex opened(R"(log file opened: (\S+))");
    const std::string out = listed.output();
    for (auto it = std::sregex_iterator(out.begin(), out.end(), opened);
         it != std::sregex_iterator(); ++it) {
      std::filesystem::remove((*it)[1].str());
    }
  }
  {
    // Peer ranges in coturn's tables (coturn reads them, turnadmin does not write them).
    sqlite3* direct = nullptr;
    ASSERT_EQ(sqlite3_open(db.c_str(), &direct), SQLITE_OK);
    const std::string sql = "INSERT INTO denied_peer_ip (realm, ip_range) VALUES ('" + realm +
                            "', '127.0.0.5'); INSERT INTO allowed_peer_ip (realm, ip_range) "
                            "VALUES ('" +
                            realm + "', '10.9.0.0-10.9.0.255')";
    ASSERT_EQ(sqlite3_exec(direct, sql.c_str(), nullptr, nullptr, nullptr), SQLITE_OK);
    sqlite3_close(direct);
  }
  start_server({"--userdb", db});
  ASSERT_TRUE(
      server_->wait_for(std::regex("realm sql\\.test options from the user database: "
                                   "max-bps=500000 allowed-peer-ip=1 denied-peer-ip=1")))
      << server_->output();
  ASSERT_TRUE(
      server_->wait_for(std::regex("realm sql\\.test quotas from the user database: user-quota=1 "
                                   "total-quota=\\(config\\)")))
      << server_->output();
  {
    turn_session s(SOCK_DGRAM, *protocol::transport_address::parse_ip("127.0.0.1", port_), "dave",
                   "dave-password");
    ASSERT_EQ(s.allocate().code, 0);
    EXPECT_EQ(s.create_permission(*protocol::transport_address::parse_ip("127.0.0.5", 9)).code,
              403);
    EXPECT_EQ(s.create_permission(*protocol::transport_address::parse_ip("127.0.0.6", 9)).code, 0);
    // user-quota=1 from the database: dave's second allocation is refused while this one lasts.
    EXPECT_EQ(allocate("dave", "dave-password"), 486);
    EXPECT_EQ(s.remove().code, 0);
  }
  EXPECT_EQ(allocate("dave", "dave-password"), 0);
  EXPECT_EQ(allocate("dave", "erin-password"), 401);
  // (uclient holds three allocations: its probe and one per client.)
  EXPECT_EQ(admin({"-O", "-r", realm, "--user-quota", "3"}).first, 0);
  ASSERT_TRUE(
      server_->wait_for(std::regex("realm sql\\.test quotas from the user database: user-quota=3")))
      << server_->output();
  const auto rest = uclient({"-u", "frank", "-W", "admin-rest-secret"});
  EXPECT_TRUE(rest.zero_loss) << rest.output;
  // Deleted: refused once the cache (redis-cache-ttl 0 here) asks again.
  EXPECT_EQ(admin({"-d", "-u", "erin", "-r", realm}).first, 0);
  EXPECT_EQ(allocate("erin", "erin-password"), 401);
  EXPECT_EQ(admin({"-l", "-r", realm}).second, "dave\t" + realm + "\n");
  std::filesystem::remove(db);
}

TEST_F(SqlUserdbTest, MissingSqliteFileStopsStartUp) {
  process server({TURNPIKE_BINARY, "-n", "-L", "127.0.0.1", "-p", "0", "-r", realm,
                  "--lt-cred-mech", "--userdb", "/nonexistent/turndb"});
  EXPECT_EQ(server.wait_exit(), 1);
  EXPECT_NE(server.output().find("userdb: cannot open the SQLite database: /nonexistent/turndb"),
            std::string::npos)
      << server.output();
}

}  // namespace
}  // namespace turnpike::test
