// SPDX-License-Identifier: Apache-2.0
// libFuzzer target: the metrics endpoint's HTTP handling (server/metrics/http_answer.hpp) on
// arbitrary bytes, fed in chunks as a socket would deliver them: Beast's request parser under
// our limits, then the answer. Whatever arrives, the parser stops with an error or a request,
// and the answer is one of the statuses the endpoint knows, with no body for HEAD. The same
// request, given the right admin key, goes to the sessions API (server/metrics/
// sessions_api.hpp) over an empty server: its answers are JSON with a known status.
#include <boost/beast/core.hpp>
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "server/metrics/http_answer.hpp"
#include "server/metrics/sessions_api.hpp"

namespace http = boost::beast::http;
namespace m = turnpike::server::metrics;

namespace {

class no_sessions final : public m::sessions_backend {
 public:
  std::vector<row> list(const turnpike::server::engine::session_filter&, bool& complete) override {
    complete = true;
    return {};
  }
  std::size_t end(const turnpike::server::engine::session_filter&, std::optional<std::size_t>,
                  bool& complete) override {
    complete = true;
    return 0;
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 2) return 0;
  const std::size_t chunk = 1 + data[0] % 64;
  const bool draining = (data[1] & 1) != 0;
  const char* in = reinterpret_cast<const char*>(data + 2);
  std::size_t left = size - 2;
  http::request_parser<http::string_body> parser;
  m::limit_request(parser);
  parser.eager(true);
  boost::beast::error_code ec;
  std::string pending;
  while (!parser.is_done()) {
    const std::size_t take = std::min(chunk, left);
    pending.append(in, take);
    in += take;
    left -= take;
    // The client stopped mid-request: nothing to answer. (A socket read never hands the
    // parser an empty buffer, and Beast's parser is not meant to get one.)
    if (pending.empty()) return 0;
    const std::size_t used = parser.put(boost::asio::buffer(pending), ec);
    pending.erase(0, used);
    if (ec == http::error::need_more) ec = {};
    if (ec) return 0;                      // refused: the connection is closed without an answer
    if (take == 0 && used == 0) return 0;  // what is left is not enough, and nothing more comes
  }
  const auto req = parser.release();
  const auto res = m::answer_request(req, "/metrics", draining, [] { return "up 1\n"; });
  switch (res.result_int()) {
    case 200:
    case 404:
    case 405:
    case 503:
      break;
    default:
      std::abort();
  }
  if (req.method() == http::verb::head && !res.body().empty()) std::abort();
  if (res.find(http::field::content_type) == res.end()) std::abort();

  auto admin = req;
  admin.set(http::field::authorization, "Bearer fuzz-admin-api-key-0123");
  no_sessions backend;
  const auto api = m::answer_sessions(admin, "fuzz-admin-api-key-0123", "fuzz", backend);
  switch (api.result_int()) {
    case 200:
    case 400:
    case 404:
    case 405:
      break;
    default:
      std::abort();
  }
  if (api[http::field::content_type] != "application/json") std::abort();
  return 0;
}
