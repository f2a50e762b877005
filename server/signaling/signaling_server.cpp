// SPDX-License-Identifier: Apache-2.0
// Connections of the signaling service: detect TLS, HTTP/1.1 requests, WebSocket sessions.
#include "server/signaling/signaling_server.hpp"

#include <spdlog/spdlog.h>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>
#include <ctime>
#include <deque>

#include "server/net/asio_address.hpp"

namespace turnpike::server::signaling {

namespace beast = boost::beast;
namespace websocket = beast::websocket;
namespace asio = boost::asio;
using tcp = asio::ip::tcp;

struct signaling_server::shared {
  service svc;
  signaling_stats& stats;
  unsigned connections_per_ip;
  std::unordered_map<std::string, unsigned> per_ip;

  const limits& limit() const noexcept { return svc.limit(); }
};

namespace {

using shared = signaling_server::shared;

// One connection's place in its IP's count, given back when the connection's last owner goes.
class ip_ticket {
 public:
  ip_ticket(shared& s, std::string ip) : s_(&s), ip_(std::move(ip)) {
    ++s_->per_ip[ip_];
    ++s_->stats.connections;
  }
  ip_ticket(ip_ticket&& o) noexcept : s_(std::exchange(o.s_, nullptr)), ip_(std::move(o.ip_)) {}
  ip_ticket& operator=(ip_ticket&&) = delete;
  ~ip_ticket() {
    if (s_ == nullptr) return;
    const auto it = s_->per_ip.find(ip_);
    if (it != s_->per_ip.end() && --it->second == 0) s_->per_ip.erase(it);
    --s_->stats.connections;
  }
  const std::string& ip() const noexcept { return ip_; }

 private:
  shared* s_;
  std::string ip_;
};

std::int64_t unix_now() {
  return static_cast<std::int64_t>(std::time(nullptr));
}

// A WebSocket peer: reads text messages one after another, writes what the room sends it
// through a queue bounded by limits::backlog_bytes (a reader too slow for that is closed).
template <class Stream>
class ws_session final : public peer_link, public std::enable_shared_from_this<ws_session<Stream>> {
 public:
  ws_session(Stream&& stream, shared& sh, ip_ticket&& ticket)
      : ws_(std::move(stream)), sh_(sh), ticket_(std::move(ticket)) {
    conn_.ip = ticket_.ip();
  }
  ~ws_session() override {
    if (accepted_) --sh_.stats.websockets;
  }

  void start(http::request<http::string_body> req) {
    beast::get_lowest_layer(ws_).expires_never();
    // Pings at half the idle timeout; no answer by the full timeout closes the connection.
    websocket::stream_base::timeout t{};
    t.handshake_timeout = sh_.limit().idle;
    t.idle_timeout = sh_.limit().idle;
    t.keep_alive_pings = true;
    ws_.set_option(t);
    ws_.set_option(websocket::stream_base::decorator(
        [](websocket::response_type& res) { res.set(http::field::server, "turnpike"); }));
    ws_.read_message_max(sh_.limit().max_message);
    ws_.async_accept(req, [self = this->shared_from_this()](beast::error_code ec) {
      if (ec) return;
      self->accepted_ = true;
      ++self->sh_.stats.websockets;
      self->read();
    });
  }

  void deliver(const text& message) override {
    if (closed_) return;
    if (queued_bytes_ + message->size() > sh_.limit().backlog_bytes) {
      // Too slow to keep up: closing cancels the read, whose handler leaves the room.
      closed_ = true;
      beast::get_lowest_layer(ws_).close();
      return;
    }
    queued_bytes_ += message->size();
    queue_.push_back(message);
    write();
  }

 private:
  void read() {
    ws_.async_read(buffer_, [self = this->shared_from_this()](beast::error_code ec, std::size_t) {
      self->on_read(ec);
    });
  }
  void on_read(beast::error_code ec) {
    if (ec) {
      // Closed, timed out, or a frame over signaling-max-message (Beast answers that with
      // close code 1009 before this runs).
      closed_ = true;
      sh_.svc.on_ws_closed(conn_);
      return;
    }
    std::string reply;
    if (!ws_.got_text()) {
      reply = service::error_json(error::bad_message, "text messages only");
    } else {
      const auto data = buffer_.cdata();
      reply = sh_.svc.on_ws_message(
          conn_, *this, std::string_view(static_cast<const char*>(data.data()), data.size()),
          clock::now());
    }
    buffer_.consume(buffer_.size());
    if (!reply.empty()) deliver(std::make_shared<const std::string>(std::move(reply)));
    read();
  }
  void write() {
    if (writing_ || queue_.empty() || closed_) return;
    writing_ = true;
    ws_.text(true);
    ws_.async_write(asio::buffer(*queue_.front()),
                    [self = this->shared_from_this()](beast::error_code ec, std::size_t) {
                      self->writing_ = false;
                      self->queued_bytes_ -= self->queue_.front()->size();
                      self->queue_.pop_front();
                      if (ec) {
                        self->closed_ = true;
                        beast::get_lowest_layer(self->ws_).close();
                        return;
                      }
                      self->write();
                    });
  }

  websocket::stream<Stream> ws_;
  shared& sh_;
  ip_ticket ticket_;
  service::connection conn_;
  beast::flat_buffer buffer_;
  std::deque<text> queue_;
  std::size_t queued_bytes_ = 0;
  bool writing_ = false;
  bool closed_ = false;
  bool accepted_ = false;
};

// HTTP/1.1 requests answered in turn until the client closes or stays silent for the idle
// timeout; an upgrade on /ws becomes a ws_session.
template <class Stream>
class http_session final : public std::enable_shared_from_this<http_session<Stream>> {
 public:
  http_session(Stream&& stream, beast::flat_buffer&& buffer, shared& sh, ip_ticket&& ticket,
               std::shared_ptr<asio::ssl::context> tls = nullptr)
      : stream_(std::move(stream)),
        buffer_(std::move(buffer)),
        sh_(sh),
        ticket_(std::move(ticket)),
        tls_(std::move(tls)) {}

  void handshake() {
    if constexpr (std::is_same_v<Stream, asio::ssl::stream<beast::tcp_stream>>) {
      beast::get_lowest_layer(stream_).expires_after(sh_.limit().idle);
      stream_.async_handshake(
          asio::ssl::stream_base::server, buffer_.data(),
          [self = this->shared_from_this()](beast::error_code ec, std::size_t used) {
            if (ec) return;
            self->buffer_.consume(used);
            self->read();
          });
    } else {
      read();
    }
  }

  void read() {
    parser_.emplace();
    parser_->body_limit(sh_.limit().max_message);
    parser_->header_limit(8192);
    beast::get_lowest_layer(stream_).expires_after(sh_.limit().idle);
    http::async_read(stream_, buffer_, *parser_,
                     [self = this->shared_from_this()](beast::error_code ec, std::size_t) {
                       self->on_read(ec);
                     });
  }

 private:
  void on_read(beast::error_code ec) {
    if (ec == http::error::body_limit) {
      // The body is not read; answer and close.
      http::request<http::string_body> head(parser_->get().base(), "");
      head.keep_alive(false);
      send(head, sh_.svc.on_http_refusal(head, error::message_too_big,
                                         "a body may have at most " +
                                             std::to_string(sh_.limit().max_message) + " bytes"));
      return;
    }
    if (ec) {
      shutdown();
      return;
    }
    http::request<http::string_body> req = parser_->release();
    const std::string_view target = req.target();
    if (websocket::is_upgrade(req) && target.substr(0, target.find('?')) == "/ws") {
      std::make_shared<ws_session<Stream>>(std::move(stream_), sh_, std::move(ticket_))
          ->start(std::move(req));
      return;
    }
    send(req, sh_.svc.on_http(req, ticket_.ip(), clock::now(), unix_now()));
  }

  // Writes `answer` to `req` (for HEAD: the length without the body), then reads the next
  // request or closes.
  void send(const request& req, response answer) {
    auto res = std::make_shared<response>(std::move(answer));
    if (req.method() == http::verb::head) {
      const auto n = res->body().size();
      res->body().clear();
      res->content_length(n);
    } else {
      res->prepare_payload();
    }
    http::async_write(stream_, *res,
                      [self = this->shared_from_this(), res](beast::error_code ec, std::size_t) {
                        if (ec || !res->keep_alive()) {
                          self->shutdown();
                          return;
                        }
                        self->read();
                      });
  }

  void shutdown() {
    if constexpr (std::is_same_v<Stream, asio::ssl::stream<beast::tcp_stream>>) {
      beast::get_lowest_layer(stream_).expires_after(std::chrono::seconds(2));
      stream_.async_shutdown([self = this->shared_from_this()](beast::error_code) {});
    } else {
      beast::error_code ignored;
      stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
    }
  }

  Stream stream_;
  beast::flat_buffer buffer_;
  shared& sh_;
  ip_ticket ticket_;
  std::shared_ptr<asio::ssl::context> tls_;  // kept for the session's life
  std::optional<http::request_parser<http::string_body>> parser_;
};

// The first bytes decide: a TLS ClientHello (when a certificate is configured) or plain HTTP.
class detect_session final : public std::enable_shared_from_this<detect_session> {
 public:
  detect_session(tcp::socket socket, shared& sh, ip_ticket&& ticket,
                 std::shared_ptr<asio::ssl::context> tls)
      : stream_(std::move(socket)), sh_(sh), ticket_(std::move(ticket)), tls_(std::move(tls)) {}

  void run() {
    stream_.expires_after(sh_.limit().idle);
    beast::async_detect_ssl(stream_, buffer_,
                            [self = shared_from_this()](beast::error_code ec, bool is_tls) {
                              self->on_detect(ec, is_tls);
                            });
  }

 private:
  void on_detect(beast::error_code ec, bool is_tls) {
    if (ec) return;
    if (!is_tls) {
      std::make_shared<http_session<beast::tcp_stream>>(std::move(stream_), std::move(buffer_), sh_,
                                                        std::move(ticket_))
          ->handshake();
      return;
    }
    if (!tls_) return;  // TLS without a certificate configured: close
    auto& ctx = *tls_;
    std::make_shared<http_session<asio::ssl::stream<beast::tcp_stream>>>(
        asio::ssl::stream<beast::tcp_stream>(std::move(stream_), ctx), std::move(buffer_), sh_,
        std::move(ticket_), tls_)
        ->handshake();
  }

  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  shared& sh_;
  ip_ticket ticket_;
  std::shared_ptr<asio::ssl::context> tls_;
};

limits limits_from(const config::server_config& cfg) {
  limits l;
  l.peers_per_room = cfg.signaling_peers_per_room;
  l.rooms_per_ip = cfg.signaling_rooms_per_ip;
  l.max_message = cfg.signaling_max_message;
  l.backlog_bytes = 4 * static_cast<std::size_t>(cfg.signaling_max_message);
  l.idle = std::chrono::seconds(cfg.signaling_idle_timeout);
  return l;
}

ice_settings ice_from(const config::server_config& cfg, std::vector<std::string> urls) {
  ice_settings s;
  s.api_key = cfg.signaling_api_key;
  if (!cfg.static_auth_secrets.empty()) s.secret = cfg.static_auth_secrets.front();
  s.separator = cfg.rest_api_separator;
  s.ttl = cfg.signaling_credential_ttl;
  if (cfg.signaling_ice_urls.empty()) {
    s.urls = std::move(urls);
  } else {
    s.urls = cfg.signaling_ice_urls;
  }
  return s;
}

}  // namespace

signaling_server::signaling_server(const config::server_config& cfg,
                                   std::vector<std::string> ice_urls,
                                   std::shared_ptr<asio::ssl::context> tls)
    : shared_(std::make_unique<shared>(
          shared{service(limits_from(cfg), ice_from(cfg, std::move(ice_urls)), cfg.signaling_demo),
                 stats_,
                 cfg.signaling_connections_per_ip,
                 {}})),
      tls_(std::move(tls)),
      acceptor_(io_),
      ticker_(io_) {
  auto at = cfg.signaling_address;
  at.port = cfg.signaling_port.value_or(0);
  local_ = net::listen_on(acceptor_, at, "signaling");
  accept();
  tick();
  thread_ = std::thread([this] { io_.run(); });
}

signaling_server::~signaling_server() {
  asio::post(io_, [this] {
    boost::system::error_code ignored;
    acceptor_.close(ignored);
    ticker_.cancel();
    io_.stop();
  });
  if (thread_.joinable()) thread_.join();
}

void signaling_server::set_tls(std::shared_ptr<asio::ssl::context> tls) {
  asio::post(io_, [this, tls = std::move(tls)]() mutable { tls_ = std::move(tls); });
}

void signaling_server::tick() {
  shared_->svc.tick(clock::now());
  const auto counts = shared_->svc.registry().counts();
  const auto& c = shared_->svc.counters();
  stats_.rooms = counts.rooms;
  stats_.peers = counts.peers;
  stats_.relayed = c.relayed;
  stats_.errors = c.refused;
  stats_.credentials_issued = c.credentials_issued;
  stats_.credentials_refused = c.credentials_refused;
  stats_.credentials_throttled = c.credentials_throttled;
  if (const auto r = shared_->svc.take_key_report(clock::now())) {
    spdlog::warn(
        "signaling: {} wrong API key(s), {} request(s) refused unread (429) from {} source(s) "
        "over the limit{}; most from {} ({})",
        r->failed, r->throttled, r->sources_throttled,
        r->untracked != 0 ? fmt::format(", {} from sources not tracked (table full)", r->untracked)
                          : std::string(),
        r->loudest.empty() ? std::string("-") : r->loudest, r->loudest_failed);
  }
  ticker_.expires_after(std::chrono::seconds(1));
  ticker_.async_wait([this](boost::system::error_code ec) {
    if (!ec) tick();
  });
}

void signaling_server::accept() {
  acceptor_.async_accept([this](boost::system::error_code ec, tcp::socket s) {
    if (ec == asio::error::operation_aborted || !acceptor_.is_open()) return;
    if (ec) {
      // Out of descriptors or memory: wait instead of spinning on the same error.
      auto retry = std::make_shared<asio::steady_timer>(io_, std::chrono::milliseconds(100));
      retry->async_wait([this, retry](boost::system::error_code) {
        if (acceptor_.is_open()) accept();
      });
      return;
    }
    boost::system::error_code peer_ec;
    const auto remote = s.remote_endpoint(peer_ec);
    if (!peer_ec) {
      std::string ip = remote.address().to_string();
      const auto it = shared_->per_ip.find(ip);
      if (it != shared_->per_ip.end() && it->second >= shared_->connections_per_ip) {
        ++stats_.refused_connections;  // the socket closes as it goes out of scope
      } else {
        std::make_shared<detect_session>(std::move(s), *shared_, ip_ticket(*shared_, std::move(ip)),
                                         tls_)
            ->run();
      }
    }
    accept();
  });
}

}  // namespace turnpike::server::signaling
