// SPDX-License-Identifier: Apache-2.0
// Shard creation and listener binding.
#include "server/net/server.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <boost/system/system_error.hpp>
#include <thread>

namespace turnpike::server::net {
namespace {

engine::engine_settings engine_settings_for(const config::server_config& cfg,
                                            const listen_plan& plan) {
  engine::engine_settings s;
  s.answer_binding = !cfg.no_stun;
  s.fingerprint_always = cfg.fingerprint;
  s.backward_compatibility = cfg.stun_backward_compatibility;
  if (cfg.software_attribute) s.software = "Turnpike " TURNPIKE_VERSION;
  s.log_binding = cfg.log_binding;
  s.rfc5780 = plan.rfc5780;
  return s;
}

}  // namespace

server::server(const config::server_config& cfg) : cfg_(cfg) {
  plan_ = make_listen_plan(cfg_,
                           cfg_.listening_ips.empty() ? interface_addresses() : cfg_.listening_ips);
  unsigned n = cfg_.relay_threads;
  if (n == 0) n = std::max(1u, std::thread::hardware_concurrency());
  for (unsigned i = 0; i < n; ++i) {
    shards_.push_back(std::make_unique<shard>(i, engine_settings_for(cfg_, plan_)));
  }
}

server::~server() {
  stop();
  join();
}

void server::open() {
  std::vector<std::uint16_t> ports{plan_.port};
  if (plan_.rfc5780) ports.push_back(plan_.alt_port);
  for (const auto& ip : plan_.ips) {
    for (std::uint16_t port : ports) {
      protocol::transport_address want = ip;
      want.port = port;
      auto bind_all = [&](engine::transport proto) {
        protocol::transport_address at = want;
        for (auto& s : shards_) {
          try {
            at = proto == engine::transport::udp ? s->open_udp(at) : s->open_tcp(at);
          } catch (const boost::system::system_error& e) {
            throw boost::system::system_error(
                e.code(), std::string(engine::transport_name(proto)) + " " + at.to_string());
          }
        }
        listeners_.push_back({proto, at, port != plan_.port});
        return at.port;  // an OS-chosen port, once chosen, is reused by the other shards
      };
      if (cfg_.udp) want.port = bind_all(engine::transport::udp);
      if (cfg_.tcp) bind_all(engine::transport::tcp);
    }
  }
}

void server::start() {
  for (auto& s : shards_) s->start();
}

void server::stop() {
  for (auto& s : shards_) s->stop();
}

void server::join() {
  for (auto& s : shards_) s->join();
}

engine::engine_counters server::totals() const noexcept {
  engine::engine_counters t;
  for (const auto& s : shards_) t += s->counters();
  return t;
}

std::uint64_t server::send_failures() const noexcept {
  std::uint64_t n = 0;
  for (const auto& s : shards_) n += s->send_failures();
  return n;
}

std::string ice_servers_json(const std::vector<bound_listener>& listeners,
                             const std::string& username, const std::string& credential) {
  // Built with append: GCC 12 at -O3 warns falsely (-Wrestrict) on "literal" + string.
  std::vector<std::string> urls;
  for (const auto& l : listeners) {
    if (l.proto != engine::transport::udp || l.alternate) continue;
    std::string url = "stun:";
    url += l.address.to_string();
    if (std::find(urls.begin(), urls.end(), url) == urls.end()) urls.push_back(std::move(url));
  }
  std::string json = "{\"iceServers\":[{\"urls\":[";
  for (std::size_t i = 0; i < urls.size(); ++i) {
    if (i > 0) json += ',';
    json.append("\"").append(urls[i]).append("\"");
  }
  json += ']';
  if (!username.empty()) {
    json.append(",\"username\":\"").append(username);
    json.append("\",\"credential\":\"").append(credential).append("\"");
  }
  json += "}]}";
  return json;
}

}  // namespace turnpike::server::net
