// SPDX-License-Identifier: Apache-2.0
// TURN over DTLS against the real binary, with OpenSSL as the client and a certificate made at
// test time: a Binding over DTLS on the TLS port and on the plain port (plain STUN still
// answered on both), the stateless cookie exchange (a flood of ClientHellos without cookies
// gets HelloVerifyRequests and creates no session), a client that stops after returning its
// cookie (retransmitted flight, then closed at the handshake limit), an idle session closed
// with a close_notify, a certificate reload that keeps sessions, and a refused DTLS 1.0
// client.
#include <gtest/gtest.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <poll.h>

#include <filesystem>

#include "protocol/attr_address.hpp"
#include "protocol/builder.hpp"
#include "protocol/message.hpp"
#include "support/certs.hpp"
#include "support/process.hpp"
#include "support/stun_client.hpp"

namespace turnpike::test {
namespace {

using namespace std::chrono_literals;

protocol::transport_address loopback(std::uint16_t port) {
  return *protocol::transport_address::parse_ip("127.0.0.1", port);
}

// A connected UDP socket.
class udp_fd {
 public:
  explicit udp_fd(std::uint16_t port) {
    fd_ = ::socket(AF_INET, SOCK_DGRAM, 0);
    socklen_t len = 0;
    const auto ss = to_sockaddr(loopback(port), len);
    if (fd_ < 0 || ::connect(fd_, reinterpret_cast<const sockaddr*>(&ss), len) != 0) {
      throw std::runtime_error("udp connect");
    }
  }
  ~udp_fd() { ::close(fd_); }
  udp_fd(const udp_fd&) = delete;
  udp_fd& operator=(const udp_fd&) = delete;
  int fd() const { return fd_; }
  void send(const bytes& b) const {
    ASSERT_EQ(::send(fd_, b.data(), b.size(), 0), (ssize_t)b.size());
  }
  std::optional<bytes> receive(int timeout_ms) const {
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, timeout_ms) != 1) return std::nullopt;
    bytes b(65536);
    const auto n = ::recv(fd_, b.data(), b.size(), 0);
    if (n < 0) return std::nullopt;
    b.resize(static_cast<std::size_t>(n));
    return b;
  }
  protocol::transport_address local() const {
    sockaddr_storage ss{};
    socklen_t len = sizeof ss;
    getsockname(fd_, reinterpret_cast<sockaddr*>(&ss), &len);
    return from_sockaddr(ss);
  }

 private:
  int fd_ = -1;
};

using ssl_ctx_ptr = std::unique_ptr<SSL_CTX, decltype(&SSL_CTX_free)>;
using ssl_ptr = std::unique_ptr<SSL, decltype(&SSL_free)>;

ssl_ctx_ptr client_context(int max_version = DTLS1_2_VERSION) {
  ssl_ctx_ptr ctx(SSL_CTX_new(DTLS_client_method()), &SSL_CTX_free);
  SSL_CTX_set_max_proto_version(ctx.get(), max_version);
  if (max_version == DTLS1_VERSION) SSL_CTX_set_security_level(ctx.get(), 0);
  SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_NONE, nullptr);  // self-signed test certificate
  return ctx;
}

// A blocking DTLS client on a connected UDP socket (OpenSSL's own datagram BIO and timers).
struct dtls_client {
  udp_fd socket;
  ssl_ctx_ptr ctx;
  ssl_ptr ssl{nullptr, &SSL_free};

  explicit dtls_client(std::uint16_t port, int max_version = DTLS1_2_VERSION)
      : socket(port), ctx(client_context(max_version)) {
    ssl.reset(SSL_new(ctx.get()));
    BIO* bio = BIO_new_dgram(socket.fd(), BIO_NOCLOSE);
    BIO_ADDR* peer = BIO_ADDR_new();
    const in_addr ip{htonl(INADDR_LOOPBACK)};
    BIO_ADDR_rawmake(peer, AF_INET, &ip, sizeof ip, htons(port));
    BIO_ctrl_set_connected(bio, peer);
    BIO_ADDR_free(peer);
    timeval tv{2, 0};
    BIO_ctrl(bio, BIO_CTRL_DGRAM_SET_RECV_TIMEOUT, 0, &tv);
    SSL_set_bio(ssl.get(), bio, bio);
  }
  bool handshake() {
    const bool ok = SSL_connect(ssl.get()) == 1;
    ERR_clear_error();
    return ok;
  }
  std::optional<bytes> request(const bytes& msg) {
    if (SSL_write(ssl.get(), msg.data(), static_cast<int>(msg.size())) <= 0) return std::nullopt;
    bytes b(65536);
    const int n = SSL_read(ssl.get(), b.data(), static_cast<int>(b.size()));
    if (n <= 0) return std::nullopt;
    b.resize(static_cast<std::size_t>(n));
    return b;
  }
};

bytes binding_request() {
  bytes buf(64);
  protocol::transaction_id tid{};
  for (std::size_t i = 0; i < tid.size(); ++i) tid[i] = static_cast<std::uint8_t>(i * 7 + 1);
  protocol::message_builder b(buf, protocol::method::binding, protocol::msg_class::request, tid);
  auto out = b.finish();
  return bytes(out->begin(), out->end());
}

// The mapped address in a Binding success response, if it is one.
std::optional<protocol::transport_address> mapped(const bytes& response) {
  auto m = protocol::message_view::parse(response);
  if (!m || m->cls() != protocol::msg_class::success_response) return std::nullopt;
  auto a = m->find(protocol::attr::xor_mapped_address);
  if (!a) return std::nullopt;
  auto addr = protocol::decode_xor_address(a->value, m->tid_bytes());
  if (!addr) return std::nullopt;
  return *addr;
}

// A client's first ClientHello (no cookie), made by OpenSSL into a memory BIO.
bytes first_client_hello() {
  auto ctx = client_context();
  ssl_ptr ssl(SSL_new(ctx.get()), &SSL_free);
  BIO* rbio = BIO_new(BIO_s_mem());
  BIO* wbio = BIO_new(BIO_s_mem());
  SSL_set_bio(ssl.get(), rbio, wbio);
  SSL_set_connect_state(ssl.get());
  SSL_do_handshake(ssl.get());
  ERR_clear_error();
  char* data = nullptr;
  const long n = BIO_get_mem_data(wbio, &data);
  return bytes(reinterpret_cast<std::uint8_t*>(data), reinterpret_cast<std::uint8_t*>(data) + n);
}

bool is_hello_verify_request(const bytes& b) {
  return b.size() > 13 && b[0] == 22 && b[13] == 3;
}

// The value of `name=` in the server's stop summary line (-1 when absent).
long summary_count(const std::string& out, const std::string& name) {
  std::smatch m;
  if (!std::regex_search(out, m, std::regex(" " + name + R"(=(\d+))"))) return -1;
  return std::stol(m[1]);
}

class DtlsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    cert_ = make_test_certificate();
    server_ = std::make_unique<process>(std::vector<std::string>{
        TURNPIKE_BINARY, "-n", "-L", "127.0.0.1", "-p", "0", "--tls-listening-port", "0", "--cert",
        cert_.cert, "--pkey", cert_.key, "--stream-frame-timeout", "2", "--stream-idle-timeout",
        "3", "--relay-threads", "2"});
    auto udp = server_->wait_for(std::regex(R"(listening udp 127\.0\.0\.1:(\d+))"));
    auto dtls = server_->wait_for(std::regex(R"(listening dtls 127\.0\.0\.1:(\d+))"));
    ASSERT_TRUE(udp && dtls) << server_->output();
    plain_port_ = static_cast<std::uint16_t>(std::stoi((*udp)[1]));
    dtls_port_ = static_cast<std::uint16_t>(std::stoi((*dtls)[1]));
    ASSERT_TRUE(server_->wait_for(std::regex("iceServers"))) << server_->output();
  }
  void TearDown() override {
    std::filesystem::remove_all(std::filesystem::path(cert_.cert).parent_path());
  }
  // Stops the server and returns the value of `name=` in its summary line.
  long stop_and_count(const std::string& name) {
    server_->signal(SIGTERM);
    EXPECT_EQ(server_->wait_exit(), 0) << server_->output();
    return summary_count(server_->output(), name);
  }

  test_certificate cert_;
  std::unique_ptr<process> server_;
  std::uint16_t plain_port_ = 0, dtls_port_ = 0;
};

TEST_F(DtlsTest, BindingOverDtlsOnBothPortsAndPlainStunBesideIt) {
  for (std::uint16_t port : {dtls_port_, plain_port_}) {
    dtls_client c(port);
    ASSERT_TRUE(c.handshake()) << port;
    auto response = c.request(binding_request());
    ASSERT_TRUE(response);
    EXPECT_EQ(mapped(*response), c.socket.local());
    stun_client plain(SOCK_DGRAM, loopback(port));
    EXPECT_EQ(plain.binding(), plain.local());
  }
  EXPECT_EQ(stop_and_count("dtls_handshakes"), 2);
}

TEST_F(DtlsTest, ClientHellosWithoutCookiesGetHelloVerifyRequestsAndLeaveNoState) {
  const bytes hello = first_client_hello();
  ASSERT_FALSE(hello.empty());
  constexpr int clients = 300;
  int answered = 0;
  for (int i = 0; i < clients; ++i) {
    udp_fd s(dtls_port_);
    s.send(hello);
    auto reply = s.receive(5000);
    if (reply && is_hello_verify_request(*reply)) ++answered;
  }
  EXPECT_EQ(answered, clients);
  // Not a ClientHello: dropped without an answer.
  udp_fd junk(dtls_port_);
  junk.send(bytes{23, 0xfe, 0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0});
  EXPECT_FALSE(junk.receive(300));
  // Sessions are made only after a returned cookie: none here.
  server_->signal(SIGTERM);
  ASSERT_EQ(server_->wait_exit(), 0);
  const std::string out = server_->output();
  EXPECT_EQ(summary_count(out, "dtls_hello_verify"), clients) << out;
  EXPECT_EQ(summary_count(out, "dtls_handshakes"), 0) << out;
  EXPECT_EQ(summary_count(out, "dtls_failed"), 0) << out;
  EXPECT_EQ(summary_count(out, "dtls_refused"), 0) << out;
  EXPECT_EQ(summary_count(out, "dtls_dropped"), 1) << out;
}

TEST_F(DtlsTest, ClientSilentAfterItsCookieIsClosedAtTheHandshakeLimit) {
  // Drive OpenSSL's client through memory BIOs: ClientHello, HelloVerifyRequest, ClientHello
  // with the cookie; then never answer the server's flight.
  auto ctx = client_context();
  ssl_ptr ssl(SSL_new(ctx.get()), &SSL_free);
  BIO* rbio = BIO_new(BIO_s_mem());
  BIO* wbio = BIO_new(BIO_s_mem());
  SSL_set_bio(ssl.get(), rbio, wbio);
  SSL_set_connect_state(ssl.get());
  udp_fd s(dtls_port_);
  auto flush = [&] {
    char* data = nullptr;
    const long n = BIO_get_mem_data(wbio, &data);
    s.send(bytes(reinterpret_cast<std::uint8_t*>(data), reinterpret_cast<std::uint8_t*>(data) + n));
    BIO_reset(wbio);
  };
  SSL_do_handshake(ssl.get());
  flush();
  auto hvr = s.receive(2000);
  ASSERT_TRUE(hvr && is_hello_verify_request(*hvr));
  BIO_write(rbio, hvr->data(), static_cast<int>(hvr->size()));
  SSL_do_handshake(ssl.get());
  flush();
  ERR_clear_error();
  // The ServerHello flight, then (unanswered) its retransmission after about a second.
  int flights = 0;
  const auto start = std::chrono::steady_clock::now();
  while (std::chrono::steady_clock::now() - start < 4s) {
    auto d = s.receive(500);
    if (d && !d->empty() && (*d)[0] == 22) ++flights;
  }
  EXPECT_GE(flights, 2);
  EXPECT_EQ(stop_and_count("dtls_failed"), 1);
}

TEST_F(DtlsTest, IdleSessionIsClosedWithCloseNotify) {
  dtls_client c(dtls_port_);
  ASSERT_TRUE(c.handshake());
  ASSERT_TRUE(c.request(binding_request()));
  // stream-idle-timeout=3: the server says close_notify within a few seconds.
  timeval tv{8, 0};
  BIO_ctrl(SSL_get_rbio(c.ssl.get()), BIO_CTRL_DGRAM_SET_RECV_TIMEOUT, 0, &tv);
  bytes b(2048);
  const int n = SSL_read(c.ssl.get(), b.data(), static_cast<int>(b.size()));
  EXPECT_EQ(n, 0);
  EXPECT_EQ(SSL_get_error(c.ssl.get(), n), SSL_ERROR_ZERO_RETURN);
  ERR_clear_error();
  EXPECT_EQ(stop_and_count("dtls_idle_closed"), 1);
}

// The SHA-256 digest of the certificate the server presented.
std::string peer_fingerprint(SSL* ssl) {
  X509* cert = SSL_get1_peer_certificate(ssl);
  if (cert == nullptr) return {};
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  X509_digest(cert, EVP_sha256(), md, &n);
  X509_free(cert);
  return std::string(reinterpret_cast<char*>(md), n);
}

TEST_F(DtlsTest, CertificateReloadOnSigusr2KeepsSessions) {
  dtls_client before(dtls_port_);
  ASSERT_TRUE(before.handshake());
  const std::string old_cert = peer_fingerprint(before.ssl.get());
  const auto next = make_test_certificate();
  std::filesystem::copy_file(next.cert, cert_.cert,
                             std::filesystem::copy_options::overwrite_existing);
  std::filesystem::copy_file(next.key, cert_.key,
                             std::filesystem::copy_options::overwrite_existing);
  server_->signal(SIGUSR2);
  ASSERT_TRUE(server_->wait_for(std::regex("certificate reloaded"), 5s)) << server_->output();
  dtls_client after(dtls_port_);
  ASSERT_TRUE(after.handshake());
  EXPECT_NE(peer_fingerprint(after.ssl.get()), old_cert);
  // The session made before the reload still works.
  auto response = before.request(binding_request());
  ASSERT_TRUE(response);
  EXPECT_EQ(mapped(*response), before.socket.local());
  std::filesystem::remove_all(std::filesystem::path(next.cert).parent_path());
}

TEST_F(DtlsTest, Dtls10IsRefused) {
  dtls_client c(dtls_port_, DTLS1_VERSION);
  EXPECT_FALSE(c.handshake());
  dtls_client ok(dtls_port_);
  EXPECT_TRUE(ok.handshake());
}

}  // namespace
}  // namespace turnpike::test
