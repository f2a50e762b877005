// SPDX-License-Identifier: Apache-2.0
// Test helper: clients of the signaling service on loopback (Beast): a WebSocket client whose
// reads wait at most as long as asked, and one HTTP request on a fresh connection, plain or
// over TLS.
#pragma once

#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>
#include <boost/json.hpp>
#include <chrono>
#include <optional>
#include <stdexcept>
#include <string>

namespace turnpike::test {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
namespace websocket = beast::websocket;
namespace json = boost::json;
using tcp = asio::ip::tcp;

inline json::object parse(const std::string& s) {
  return json::parse(s).as_object();
}
inline std::string str(const json::value& v) {
  return v.is_string() ? std::string(v.as_string()) : json::serialize(v);
}

// A WebSocket client with bounded waits (the io_context runs only as long as a wait allows).
template <class Stream = beast::tcp_stream>
class ws_client {
 public:
  explicit ws_client(std::uint16_t port, asio::ssl::context* tls = nullptr)
      : ws_(make_stream(tls)) {
    beast::get_lowest_layer(ws_).connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
    if constexpr (!std::is_same_v<Stream, beast::tcp_stream>) {
      ws_.next_layer().handshake(asio::ssl::stream_base::client);
    }
    ws_.handshake("127.0.0.1:" + std::to_string(port), "/ws");
  }
  void send(const std::string& text) {
    ws_.text(true);
    ws_.write(asio::buffer(text));
  }
  // The next text message, or nullopt when none came in `wait` (or the connection ended:
  // then error() says why).
  std::optional<std::string> read(
      std::chrono::milliseconds wait = std::chrono::milliseconds(3000)) {
    if (pending_) return take_pending(wait);
    buffer_.clear();
    done_ = false;
    ws_.async_read(buffer_, [this](beast::error_code ec, std::size_t) {
      ec_ = ec;
      done_ = true;
    });
    pending_ = true;
    return take_pending(wait);
  }
  json::object read_json(std::chrono::milliseconds wait = std::chrono::milliseconds(3000)) {
    auto m = read(wait);
    if (!m) throw std::runtime_error("no message: " + ec_.message());
    return parse(*m);
  }
  // Reads until a message of `type` (skipping peer-joined and the like).
  json::object read_type(const std::string& type,
                         std::chrono::milliseconds wait = std::chrono::milliseconds(3000)) {
    for (int i = 0; i < 20; ++i) {
      auto o = read_json(wait);
      if (str(o.at("type")) == type) return o;
    }
    throw std::runtime_error("no " + type);
  }
  beast::error_code error() const { return ec_; }
  websocket::close_reason reason() const { return ws_.reason(); }
  websocket::stream<Stream>& stream() { return ws_; }

 private:
  Stream make_stream(asio::ssl::context* tls) {
    if constexpr (std::is_same_v<Stream, beast::tcp_stream>) {
      (void)tls;
      return Stream(io_);
    } else {
      return Stream(io_, *tls);
    }
  }
  std::optional<std::string> take_pending(std::chrono::milliseconds wait) {
    io_.restart();
    const auto until = std::chrono::steady_clock::now() + wait;
    while (!done_ && std::chrono::steady_clock::now() < until)
      io_.run_for(std::chrono::milliseconds(50));
    if (!done_) return std::nullopt;
    pending_ = false;
    if (ec_) return std::nullopt;
    return beast::buffers_to_string(buffer_.data());
  }

  asio::io_context io_;
  websocket::stream<Stream> ws_;
  beast::flat_buffer buffer_;
  beast::error_code ec_;
  bool done_ = false;
  bool pending_ = false;
};

using tls_stream = asio::ssl::stream<beast::tcp_stream>;

struct http_result {
  int status = 0;
  std::string body;
  bhttp::fields headers;
};

// One request on a fresh connection.
template <class Stream = beast::tcp_stream>
http_result http_call(std::uint16_t port, bhttp::verb verb, const std::string& target,
                      const std::string& body = "", const std::string& bearer = "",
                      asio::ssl::context* tls = nullptr) {
  asio::io_context io;
  auto make = [&]() {
    if constexpr (std::is_same_v<Stream, beast::tcp_stream>) {
      return Stream(io);
    } else {
      return Stream(io, *tls);
    }
  };
  Stream s = make();
  beast::get_lowest_layer(s).connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
  if constexpr (!std::is_same_v<Stream, beast::tcp_stream>) {
    s.handshake(asio::ssl::stream_base::client);
  }
  bhttp::request<bhttp::string_body> req{verb, target, 11};
  req.set(bhttp::field::host, "127.0.0.1");
  if (!bearer.empty()) req.set(bhttp::field::authorization, "Bearer " + bearer);
  req.body() = body;
  req.prepare_payload();
  bhttp::write(s, req);
  beast::flat_buffer buf;
  bhttp::response<bhttp::string_body> res;
  beast::error_code ec;
  bhttp::read(s, buf, res, ec);
  http_result r;
  if (ec) return r;
  r.status = res.result_int();
  r.body = res.body();
  r.headers = res.base();
  return r;
}

}  // namespace turnpike::test
