// SPDX-License-Identifier: Apache-2.0
// TURN over TLS and DTLS with a certificate made at test time: turnutils_uclient -t -S on the
// TLS port and on the plain port (the first byte tells them apart), -S (DTLS) on both UDP
// ports, plain TCP on the TLS port, headless Chromium through turns: (trusting the test
// certificate by flag, and refusing it without), a silent client closed after the handshake
// limit, client certificates required by CA-file, and a bad certificate refused at start-up.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <thread>

#include "support/certs.hpp"
#include "support/process.hpp"
#include "support/stun_client.hpp"

namespace turnpike::test {
namespace {

using namespace std::chrono_literals;

const std::string browser_dir = TURNPIKE_SOURCE_DIR "/tests/interop/browser";

class TlsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    cert_ = make_test_certificate();
    peer_port_ = std::to_string(free_port());
    peer_ = std::make_unique<process>(
        std::vector<std::string>{"turnutils_peer", "-L", "127.0.0.1", "-p", peer_port_});
    server_ = std::make_unique<process>(std::vector<std::string>{
        TURNPIKE_BINARY, "-n", "-L", "127.0.0.1", "-p", "0", "--tls-listening-port", "0", "--cert",
        cert_.cert, "--pkey", cert_.key, "-u", "u:p", "-r", "test", "--allow-loopback-peers",
        "--relay-threads", "2"});
    auto plain = server_->wait_for(std::regex(R"(listening tcp 127\.0\.0\.1:(\d+))"));
    auto tls = server_->wait_for(std::regex(R"(listening tls 127\.0\.0\.1:(\d+))"));
    auto dtls = server_->wait_for(std::regex(R"(listening dtls 127\.0\.0\.1:(\d+))"));
    ASSERT_TRUE(plain && tls && dtls) << server_->output();
    plain_port_ = (*plain)[1];
    tls_port_ = (*tls)[1];
    dtls_port_ = (*dtls)[1];
    ASSERT_TRUE(server_->wait_for(std::regex("iceServers"))) << server_->output();
  }
  void TearDown() override {
    if (server_) {
      server_->signal(SIGTERM);
      EXPECT_EQ(server_->wait_exit(), 0) << server_->output();
    }
    std::filesystem::remove_all(std::filesystem::path(cert_.cert).parent_path());
  }
  std::string uclient(std::vector<std::string> flags, const std::string& port) {
    std::vector<std::string> argv{"turnutils_uclient"};
    argv.insert(argv.end(), flags.begin(), flags.end());
    for (const char* a : {"-u", "u", "-w", "p", "-e", "127.0.0.1", "-n", "30", "-m", "2"}) {
      argv.emplace_back(a);
    }
    argv.insert(argv.end(), {"-r", peer_port_, "-p", port, "127.0.0.1"});
    process c(argv);
    c.wait_exit(60s);
    return c.output();
  }
  static void expect_clean(const std::string& out) {
    EXPECT_NE(out.find("start_mclient: tot_send_msgs=60, tot_recv_msgs=60"), std::string::npos)
        << out;
    EXPECT_NE(out.find("Total lost packets 0 (0.000000%)"), std::string::npos) << out;
  }

  test_certificate cert_;
  std::unique_ptr<process> peer_;
  std::unique_ptr<process> server_;
  std::string plain_port_, tls_port_, dtls_port_, peer_port_;
};

TEST_F(TlsTest, UclientOverTlsOnBothPortsAndTcpOnTheTlsPort) {
  expect_clean(uclient({"-t", "-S"}, tls_port_));
  expect_clean(uclient({"-t", "-S"}, plain_port_));
  expect_clean(uclient({"-t"}, tls_port_));
}

// uclient -S without -t is TURN over DTLS: on the TLS port's UDP side and on the plain UDP
// port (the first byte tells DTLS from STUN). uclient offers DTLS 1.0 on some connection
// attempts and retries with 1.2 when refused; the messages must all arrive.
TEST_F(TlsTest, UclientOverDtlsOnBothPorts) {
  expect_clean(uclient({"-S"}, dtls_port_));
  expect_clean(uclient({"-S"}, plain_port_));
  expect_clean(uclient({"-S", "-s"}, dtls_port_));
}

TEST_F(TlsTest, TcpRelaysOverTls) {
  const std::string out = uclient({"-T", "-S"}, tls_port_);
  EXPECT_NE(out.find("start_mclient: tot_send_msgs=60, tot_recv_msgs=60"), std::string::npos)
      << out;
  EXPECT_NE(out.find("Total lost packets 0 (0.000000%)"), std::string::npos) << out;
}

TEST_F(TlsTest, ChromiumThroughTurns) {
  ASSERT_TRUE(std::filesystem::exists(browser_dir + "/node_modules/playwright-core"));
  const std::string url = "turns:127.0.0.1:" + tls_port_ + "?transport=tcp";
  process ok({"node", browser_dir + "/relay_datachannel.mjs", "--url", url, "--user", "u",
              "--password", "p", "--ignore-certificate-errors"});
  EXPECT_EQ(ok.wait_exit(90s), 0) << ok.output();
  EXPECT_NE(ok.output().find(R"("selected":{"local":"relay","remote":"relay")"), std::string::npos)
      << ok.output();
  // Without trusting the test certificate the browser refuses the server.
  process refused({"node", browser_dir + "/relay_datachannel.mjs", "--url", url, "--user", "u",
                   "--password", "p", "--expect", "fail", "--timeout", "8000"});
  EXPECT_EQ(refused.wait_exit(90s), 0) << refused.output();
}

TEST_F(TlsTest, SilentClientIsClosedAfterTheHandshakeLimit) {
  stun_client silent(SOCK_STREAM,
                     *protocol::transport_address::parse_ip(
                         "127.0.0.1", static_cast<std::uint16_t>(std::stoi(tls_port_))));
  const auto start = std::chrono::steady_clock::now();
  EXPECT_TRUE(silent.closed_by_peer(15000));
  EXPECT_GE(std::chrono::steady_clock::now() - start, 9s);
  // Meanwhile a well-behaved client is served on the same port.
  stun_client plain(SOCK_STREAM,
                    *protocol::transport_address::parse_ip(
                        "127.0.0.1", static_cast<std::uint16_t>(std::stoi(tls_port_))));
  EXPECT_TRUE(plain.binding());
}

TEST_F(TlsTest, CertificateReloadOnSigusr2KeepsSessions) {
  auto fingerprint = [&] {
    process p({"sh", "-c",
               "openssl s_client -connect 127.0.0.1:" + tls_port_ +
                   " </dev/null 2>/dev/null | openssl x509 -noout -fingerprint -sha256"});
    p.wait_exit(30s);
    return p.output();
  };
  const std::string before = fingerprint();
  ASSERT_NE(before.find("Fingerprint="), std::string::npos) << before;
  // A TLS session relaying for about 4 s while the certificate changes under it.
  std::vector<std::string> argv{
      "turnutils_uclient", "-t", "-S",  "-u", "u", "-w", "p",       "-e",       "127.0.0.1", "-r",
      peer_port_,          "-n", "200", "-m", "1", "-p", tls_port_, "127.0.0.1"};
  process session(argv);
  std::this_thread::sleep_for(1s);
  const test_certificate next = make_test_certificate();
  std::filesystem::copy_file(next.cert, cert_.cert,
                             std::filesystem::copy_options::overwrite_existing);
  std::filesystem::copy_file(next.key, cert_.key,
                             std::filesystem::copy_options::overwrite_existing);
  server_->signal(SIGUSR2);
  ASSERT_TRUE(server_->wait_for(std::regex("certificate reloaded"), 5s)) << server_->output();
  const std::string after = fingerprint();
  EXPECT_NE(after.find("Fingerprint="), std::string::npos) << after;
  EXPECT_NE(after, before);
  session.wait_exit(60s);
  // The session went on across the reload: everything sent and everything back. (uclient
  // reads one message per TLS record; tls_records_test.cpp checks the server keeps to that
  // when frames queue up, which they do on a busy machine.)
  const auto totals = session.wait_for(
      std::regex(R"(start_mclient: tot_send_msgs=(\d+), tot_recv_msgs=(\d+))"), 1s);
  ASSERT_TRUE(totals) << session.output();
  EXPECT_EQ(std::stoi((*totals)[1]), 400) << session.output();
  EXPECT_EQ(std::stoi((*totals)[2]), 400) << session.output();
  // A broken file on reload keeps the old certificate.
  std::ofstream(cert_.cert) << "garbage\n";
  server_->signal(SIGUSR2);
  EXPECT_TRUE(server_->wait_for(std::regex("certificate reload failed, keeping the old one"), 5s))
      << server_->output();
  EXPECT_EQ(fingerprint(), after);
  std::filesystem::remove_all(std::filesystem::path(next.cert).parent_path());
}

// With CA-file, TLS and DTLS clients must present a certificate one of its CAs signed:
// checked with openssl s_client (TLS 1.2 and DTLS 1.2, where the refusal comes inside the
// handshake) without a certificate, with the trusted one, and with an untrusted one.
TEST(TlsConfig, CaFileRequiresTrustedClientCertificates) {
  const auto server_cert = make_test_certificate();
  const auto client_cert = make_test_certificate();
  process s({TURNPIKE_BINARY, "-n", "-L", "127.0.0.1", "-p", "0", "--tls-listening-port", "0",
             "--cert", server_cert.cert, "--pkey", server_cert.key, "--CA-file", client_cert.cert});
  auto tls = s.wait_for(std::regex(R"(listening tls 127\.0\.0\.1:(\d+))"));
  auto dtls = s.wait_for(std::regex(R"(listening dtls 127\.0\.0\.1:(\d+))"));
  ASSERT_TRUE(tls && dtls) << s.output();
  auto handshake = [](const std::string& mode, const std::string& port,
                      const test_certificate* cert) {
    std::vector<std::string> argv{"openssl",  "s_client",          mode,
                                  "-connect", "127.0.0.1:" + port, "-brief"};
    if (cert != nullptr) argv.insert(argv.end(), {"-cert", cert->cert, "-key", cert->key});
    process c(argv);
    c.wait_exit(10s);
    return c.output();
  };
  for (const auto& [mode, port] : {std::pair<std::string, std::string>{"-tls1_2", (*tls)[1]},
                                   std::pair<std::string, std::string>{"-dtls1_2", (*dtls)[1]}}) {
    EXPECT_NE(handshake(mode, port, nullptr).find("alert handshake failure"), std::string::npos)
        << mode;
    const auto trusted = handshake(mode, port, &client_cert);
    EXPECT_NE(trusted.find("CONNECTION ESTABLISHED"), std::string::npos) << mode << trusted;
    EXPECT_EQ(trusted.find("alert"), std::string::npos) << mode << trusted;
    EXPECT_NE(handshake(mode, port, &server_cert).find("alert unknown ca"), std::string::npos)
        << mode;
  }
  s.signal(SIGTERM);
  EXPECT_EQ(s.wait_exit(), 0) << s.output();
  for (const auto* c : {&server_cert, &client_cert}) {
    std::filesystem::remove_all(std::filesystem::path(c->cert).parent_path());
  }
}

TEST(TlsConfig, UnusableCertificateStopsStartup) {
  const std::string bogus = testing::TempDir() + "/turnpike-bogus.pem";
  std::ofstream(bogus) << "not a certificate\n";
  process s(
      {TURNPIKE_BINARY, "-n", "-L", "127.0.0.1", "-p", "0", "--cert", bogus, "--pkey", bogus});
  EXPECT_EQ(s.wait_exit(), 1);
  EXPECT_NE(s.output().find("cert: " + bogus), std::string::npos) << s.output();
}

}  // namespace
}  // namespace turnpike::test
