// SPDX-License-Identifier: Apache-2.0
#include "server/metrics/sessions_api.hpp"

#include <boost/json.hpp>
#include <boost/url/parse.hpp>
#include <boost/url/url_view.hpp>
#include <charconv>

#include "server/engine/types.hpp"
#include "server/http/bearer.hpp"

namespace turnpike::server::metrics {
namespace {

namespace json = boost::json;

http::response<http::string_body> make(const http::request<http::string_body>& req,
                                       http::status status, const json::value& body) {
  http::response<http::string_body> res{status, req.version()};
  res.keep_alive(req.keep_alive());
  res.set(http::field::server, "turnpike");
  res.set(http::field::content_type, "application/json");
  res.set(http::field::cache_control, "no-store");
  res.body() = json::serialize(body) + "\n";
  res.prepare_payload();
  return res;
}

http::response<http::string_body> error(const http::request<http::string_body>& req,
                                        http::status status, std::string_view message) {
  auto res = make(req, status, json::object{{"error", message}});
  if (status == http::status::unauthorized) {
    res.set(http::field::www_authenticate, "Bearer realm=\"turnpike-admin\"");
  }
  return res;
}

json::object traffic(std::uint64_t packets, std::uint64_t bytes) {
  return {{"packets", packets}, {"bytes", bytes}};
}

json::object to_json(const sessions_backend::row& r, std::string_view realm) {
  const engine::session_info& s = r.info;
  json::array relayed;
  for (const auto& a : s.relayed) relayed.emplace_back(a.to_string());
  return {{"id", std::to_string(r.shard) + "-" + std::to_string(s.id)},
          {"user", s.username},
          {"realm", realm},
          {"client", s.client.remote.to_string()},
          {"transport", engine::transport_name(s.client.proto)},
          {"server", s.client.local.to_string()},
          {"relayed", std::move(relayed)},
          {"relay_transport", s.tcp_relay ? "tcp" : "udp"},
          {"age_seconds", s.age_seconds},
          {"lifetime_left_seconds", s.lifetime_left_seconds},
          {"to_peer", traffic(s.traffic.received_packets, s.traffic.received_bytes)},
          {"to_client", traffic(s.traffic.sent_packets, s.traffic.sent_bytes)},
          {"permissions", s.permissions},
          {"channels", s.channels},
          {"shard", r.shard}};
}

// "<shard>-<n>"
bool parse_id(std::string_view text, std::size_t& shard, std::uint64_t& id) {
  const auto dash = text.find('-');
  if (dash == std::string_view::npos) return false;
  const auto a = std::from_chars(text.data(), text.data() + dash, shard);
  const auto b = std::from_chars(text.data() + dash + 1, text.data() + text.size(), id);
  return a.ec == std::errc{} && a.ptr == text.data() + dash && b.ec == std::errc{} &&
         b.ptr == text.data() + text.size();
}

}  // namespace

bool is_sessions_path(std::string_view target) {
  const std::string_view path = target.substr(0, target.find('?'));
  return path == "/sessions" || path.starts_with("/sessions/");
}

http::response<http::string_body> answer_sessions(const http::request<http::string_body>& req,
                                                  std::string_view api_key, std::string_view realm,
                                                  sessions_backend& backend) {
  if (!http_auth::bearer_matches(req, api_key)) {
    return error(req, http::status::unauthorized, "send Authorization: Bearer <admin-api-key>");
  }
  const auto target = boost::urls::parse_origin_form(req.target());
  if (!target) return error(req, http::status::bad_request, "the request target is not a path");
  const std::string path = target->path();

  engine::session_filter filter;
  for (const auto& param : target->params()) {
    if (param.key == "user") {
      filter.username = std::string(param.value);
    } else if (param.key == "client_ip") {
      filter.client_ip = protocol::transport_address::parse_ip(param.value);
      if (!filter.client_ip) {
        return error(req, http::status::bad_request, "client_ip is not an IPv4 or IPv6 address");
      }
    } else {
      return error(req, http::status::bad_request,
                   "unknown parameter '" + std::string(param.key) + "' (user, client_ip)");
    }
  }
  std::optional<std::size_t> shard;
  if (path != "/sessions" && !path.starts_with("/sessions/")) {
    return error(req, http::status::not_found, "not found");
  }
  if (path != "/sessions") {
    std::size_t s = 0;
    std::uint64_t id = 0;
    if (!parse_id(std::string_view(path).substr(std::string_view("/sessions/").size()), s, id)) {
      return error(req, http::status::not_found, "no such session id (ids look like 0-17)");
    }
    shard = s;
    filter.id = id;
  }

  bool complete = true;
  if (req.method() == http::verb::get) {
    json::array rows;
    for (const auto& r : backend.list(filter, complete)) {
      if (shard && r.shard != *shard) continue;
      rows.emplace_back(to_json(r, realm));
    }
    if (shard && rows.empty()) return error(req, http::status::not_found, "no such session");
    return make(req, http::status::ok,
                json::object{{"sessions", std::move(rows)}, {"complete", complete}});
  }
  if (req.method() == http::verb::delete_) {
    if (filter.empty()) {
      return error(req, http::status::bad_request,
                   "name what to end: /sessions/<id>, ?user=NAME or ?client_ip=IP");
    }
    const std::size_t ended = backend.end(filter, shard, complete);
    if (shard && ended == 0) return error(req, http::status::not_found, "no such session");
    return make(req, http::status::ok, json::object{{"ended", ended}, {"complete", complete}});
  }
  auto res = error(req, http::status::method_not_allowed, "GET or DELETE");
  res.set(http::field::allow, "GET, DELETE");
  return res;
}

}  // namespace turnpike::server::metrics
