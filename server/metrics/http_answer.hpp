// SPDX-License-Identifier: Apache-2.0
// The metrics endpoint's HTTP logic without sockets: the request parser's limits, and the
// answer to one parsed request. metrics_server.cpp runs it on connections; the fuzz target
// (tests/fuzz/fuzz_http.cpp) runs it on arbitrary bytes.
#pragma once

#include <boost/beast/http.hpp>
#include <functional>
#include <string>
#include <string_view>

namespace turnpike::server::metrics {

namespace http = boost::beast::http;

// Headers and body are capped: a scrape request is a few hundred bytes.
inline void limit_request(http::request_parser<http::string_body>& parser) {
  parser.body_limit(8192);
  parser.header_limit(8192);
}

// GET/HEAD only: `metrics_path` answers `exposition()`, "/" is liveness, "/ready" readiness
// (503 while draining), anything else 404.
inline http::response<http::string_body> answer_request(
    const http::request<http::string_body>& req, std::string_view metrics_path, bool draining,
    const std::function<std::string()>& exposition) {
  http::response<http::string_body> res;
  res.version(req.version());
  res.keep_alive(req.keep_alive());
  res.set(http::field::server, "turnpike");
  const std::string target(req.target());
  const std::string path = target.substr(0, target.find('?'));
  if (req.method() != http::verb::get && req.method() != http::verb::head) {
    res.result(http::status::method_not_allowed);
    res.body() = "GET only\n";
  } else if (path == metrics_path) {
    res.result(http::status::ok);
    res.set(http::field::content_type, "text/plain; version=0.0.4; charset=utf-8");
    res.body() = exposition();
  } else if (path == "/") {
    res.result(http::status::ok);
    res.body() = "ok\n";
  } else if (path == "/ready") {
    res.result(draining ? http::status::service_unavailable : http::status::ok);
    res.body() = draining ? "draining\n" : "ready\n";
  } else {
    res.result(http::status::not_found);
    res.body() = "not found\n";
  }
  if (res.result() != http::status::ok || res.find(http::field::content_type) == res.end()) {
    res.set(http::field::content_type, "text/plain; charset=utf-8");
  }
  if (req.method() == http::verb::head) {
    res.content_length(res.body().size());
    res.body().clear();
  }
  res.prepare_payload();
  return res;
}

}  // namespace turnpike::server::metrics
