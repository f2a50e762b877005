// SPDX-License-Identifier: Apache-2.0
#include "server/admin/sessions_client.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/json.hpp>
#include <boost/url.hpp>
#include <iomanip>
#include <sstream>

namespace turnpike::admin {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace json = boost::json;

struct reply {
  unsigned status = 0;
  std::string body;
};

// One request over a fresh connection; nullopt (with `why`) when it could not be made.
std::optional<reply> call(const sessions_request& r, http::verb verb, const std::string& target,
                          std::string& why) {
  const auto url = boost::urls::parse_uri(r.api);
  if (!url || url->scheme() != "http" || url->host().empty()) {
    why = "--api must be http://HOST:PORT (the metrics listener)";
    return std::nullopt;
  }
  try {
    boost::asio::io_context io;
    boost::asio::ip::tcp::resolver resolver(io);
    beast::tcp_stream stream(io);
    stream.expires_after(std::chrono::seconds(10));
    const std::string port = url->has_port() ? std::string(url->port()) : "80";
    stream.connect(resolver.resolve(std::string(url->host_address()), port));
    http::request<http::string_body> req{verb, target, 11};
    req.set(http::field::host, url->host());
    req.set(http::field::authorization, "Bearer " + r.key);
    req.set(http::field::user_agent, "turnpike-admin");
    http::write(stream, req);
    beast::flat_buffer buffer;
    http::response<http::string_body> res;
    http::read(stream, buffer, res);
    beast::error_code ignored;
    stream.socket().shutdown(boost::asio::ip::tcp::socket::shutdown_both, ignored);
    return reply{res.result_int(), res.body()};
  } catch (const std::exception& e) {
    why = std::string("cannot reach ") + r.api + ": " + e.what();
    return std::nullopt;
  }
}

std::string query(const sessions_request& r) {
  boost::urls::url u("/sessions");
  if (r.user) u.params().append({"user", *r.user});
  if (r.client_ip) u.params().append({"client_ip", *r.client_ip});
  return std::string(u.buffer());
}

// The server's {"error": "..."} as a message, or the body itself.
std::string error_of(const reply& rep) {
  boost::system::error_code ec;
  const auto v = json::parse(rep.body, ec);
  if (!ec && v.is_object() && v.as_object().contains("error") &&
      v.as_object().at("error").is_string()) {
    return std::string(v.as_object().at("error").as_string());
  }
  return rep.body;
}

// call(), with anything but a 200 said on `err` (and nullopt returned).
std::optional<reply> call_ok(const sessions_request& r, http::verb verb, const std::string& target,
                             std::ostream& err) {
  std::string why;
  auto rep = call(r, verb, target, why);
  if (!rep) {
    err << "turnpike-admin: " << why << "\n";
  } else if (rep->status != 200) {
    err << "turnpike-admin: " << rep->status << ": " << error_of(*rep) << "\n";
    rep.reset();
  }
  return rep;
}

std::string human_bytes(std::uint64_t n) {
  std::ostringstream o;
  if (n < 10'000) {
    o << n << " B";
  } else if (n < 10'000'000) {
    o << n / 1000 << " kB";
  } else {
    o << n / 1'000'000 << " MB";
  }
  return o.str();
}

std::uint64_t number(const json::value& v) {
  if (v.is_uint64()) return v.as_uint64();
  if (v.is_int64()) return static_cast<std::uint64_t>(std::max<std::int64_t>(0, v.as_int64()));
  return 0;
}

}  // namespace

int list_sessions(const sessions_request& r, std::ostream& out, std::ostream& err) {
  const auto rep = call_ok(r, http::verb::get, query(r), err);
  if (!rep) return 1;
  if (r.json) {
    out << rep->body;
    return 0;
  }
  boost::system::error_code ec;
  const auto doc = json::parse(rep->body, ec);
  if (ec || !doc.is_object() || !doc.as_object().contains("sessions")) {
    err << "turnpike-admin: the server's answer is not a session list\n";
    return 1;
  }
  out << std::left << std::setw(10) << "ID" << std::setw(20) << "USER" << std::setw(24) << "CLIENT"
      << std::setw(6) << "VIA" << std::setw(24) << "RELAYED" << std::setw(8) << "AGE"
      << std::setw(8) << "LEFT" << std::setw(12) << "TO PEER"
      << "TO CLIENT\n";
  for (const auto& v : doc.as_object().at("sessions").as_array()) {
    const auto& s = v.as_object();
    std::string relayed;
    for (const auto& a : s.at("relayed").as_array()) {
      relayed += (relayed.empty() ? "" : ",") + std::string(a.as_string());
    }
    out << std::setw(10) << std::string(s.at("id").as_string()) << std::setw(20)
        << std::string(s.at("user").as_string()) << std::setw(24)
        << std::string(s.at("client").as_string()) << std::setw(6)
        << std::string(s.at("transport").as_string()) << std::setw(24) << relayed << std::setw(8)
        << (std::to_string(number(s.at("age_seconds"))) + "s") << std::setw(8)
        << (std::to_string(number(s.at("lifetime_left_seconds"))) + "s") << std::setw(12)
        << human_bytes(number(s.at("to_peer").as_object().at("bytes")))
        << human_bytes(number(s.at("to_client").as_object().at("bytes"))) << "\n";
  }
  if (!doc.as_object().at("complete").as_bool()) {
    err << "turnpike-admin: a shard did not answer in time; its sessions are missing\n";
  }
  return 0;
}

int kill_sessions(const sessions_request& r, std::ostream& out, std::ostream& err) {
  if (!r.id && !r.user && !r.client_ip) {
    err << "turnpike-admin: kill needs --id, --user or --client-ip\n";
    return 1;
  }
  const auto rep = call_ok(r, http::verb::delete_, r.id ? "/sessions/" + *r.id : query(r), err);
  if (!rep) return 1;
  boost::system::error_code ec;
  const auto doc = json::parse(rep->body, ec);
  if (ec || !doc.is_object() || !doc.as_object().contains("ended")) {
    err << "turnpike-admin: the server's answer is not a count\n";
    return 1;
  }
  out << "ended " << number(doc.as_object().at("ended")) << "\n";
  return 0;
}

}  // namespace turnpike::admin
