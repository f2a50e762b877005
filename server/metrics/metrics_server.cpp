// SPDX-License-Identifier: Apache-2.0
// The exposition (families built from shard snapshots) and the HTTP server.
#include "server/metrics/metrics_server.hpp"

#include "server/metrics/http_answer.hpp"
#include "server/metrics/sessions_api.hpp"

#include <prometheus/text_serializer.h>
#include <sys/resource.h>
#include <unistd.h>

#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <deque>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>

#include "server/net/asio_address.hpp"

namespace turnpike::server::metrics {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;

constexpr std::array<const char*, 4> transport_labels{"udp", "tcp", "tls", "dtls"};
constexpr std::array<const char*, 2> family_labels{"ipv4", "ipv6"};
constexpr std::array<const char*, 2> direction_labels{"to_peer", "to_client"};

// The help of each family whose series the counter lists label by reason.
const std::map<std::string, std::string, std::less<>> labelled_help{
    {"turnpike_dropped_packets_total", "Packets dropped, by reason."}};

// The families of one scrape. Kept in a deque: a reference add() returned stays valid while
// more families are added (several are filled side by side).
class families {
 public:
  MetricFamily& add(std::string name, std::string help, MetricType type) {
    out_.push_back(MetricFamily{std::move(name), std::move(help), type, {}});
    return out_.back();
  }
  void value(MetricFamily& f, double v, std::vector<ClientMetric::Label> labels = {}) {
    ClientMetric m;
    m.label = std::move(labels);
    if (f.type == MetricType::Counter) {
      m.counter.value = v;
    } else {
      m.gauge.value = v;
    }
    f.metric.push_back(std::move(m));
  }
  void single(std::string name, std::string help, MetricType type, double v) {
    value(add(std::move(name), std::move(help), type), v);
  }
  void append(MetricFamily family) { out_.push_back(std::move(family)); }
  // One series of the counter lists (TURNPIKE_ENGINE_COUNTERS and friends): the family made
  // on its first series; with a label value, a series labelled "reason" of that family.
  void listed(const char* family, const char* label, MetricType type, const char* help,
              std::uint64_t v) {
    if (*family == '\0') return;  // kept for the stop summary only
    MetricFamily* f = nullptr;
    for (auto& existing : out_) {
      if (existing.name == family) f = &existing;
    }
    if (f == nullptr) {
      const auto labelled = labelled_help.find(family);
      f = &add(family, labelled != labelled_help.end() ? labelled->second : help, type);
    }
    if (*label == '\0') {
      value(*f, static_cast<double>(v));
    } else {
      value(*f, static_cast<double>(v), {{"reason", label}});
    }
  }
  std::vector<MetricFamily> take() {
    return {std::make_move_iterator(out_.begin()), std::make_move_iterator(out_.end())};
  }

 private:
  std::deque<MetricFamily> out_;
};

// /proc/self: CPU seconds, memory, descriptors, start time (the standard process_* names).
void process_metrics(families& f) {
  std::ifstream stat("/proc/self/stat");
  std::string line;
  std::getline(stat, line);
  const auto close_paren = line.rfind(')');
  if (close_paren != std::string::npos) {
    std::istringstream rest(line.substr(close_paren + 2));
    std::vector<std::string> fields;
    for (std::string field; rest >> field;) fields.push_back(field);
    // Fields after the command name start at field 3 (state): utime is 14, stime 15,
    // starttime 22, vsize 23, rss 24.
    auto field = [&](int n) { return std::stod(fields.at(static_cast<std::size_t>(n - 3))); };
    const double tick = static_cast<double>(sysconf(_SC_CLK_TCK));
    f.single("process_cpu_seconds_total", "User and system CPU time spent in seconds.",
             MetricType::Counter, (field(14) + field(15)) / tick);
    f.single("process_virtual_memory_bytes", "Virtual memory size in bytes.", MetricType::Gauge,
             field(23));
    f.single("process_resident_memory_bytes", "Resident memory size in bytes.", MetricType::Gauge,
             field(24) * static_cast<double>(sysconf(_SC_PAGESIZE)));
    std::ifstream uptime("/proc/uptime");
    double up = 0;
    uptime >> up;
    const double boot = static_cast<double>(std::time(nullptr)) - up;
    f.single("process_start_time_seconds", "Start time of the process since the Unix epoch.",
             MetricType::Gauge, boot + field(22) / tick);
  }
  std::error_code ec;
  double fds = 0;
  for (auto it = std::filesystem::directory_iterator("/proc/self/fd", ec);
       !ec && it != std::filesystem::directory_iterator(); it.increment(ec)) {
    ++fds;
  }
  f.single("process_open_fds", "Number of open file descriptors.", MetricType::Gauge, fds);
  rlimit lim{};
  if (getrlimit(RLIMIT_NOFILE, &lim) == 0) {
    f.single("process_max_fds", "Maximum number of open file descriptors.", MetricType::Gauge,
             static_cast<double>(lim.rlim_cur));
  }
}

}  // namespace

std::string render(const net::server& srv, bool draining,
                   const signaling::signaling_stats* signaling) {
  const auto snap = srv.snapshot(std::chrono::seconds(2));
  const net::shard_snapshot& s = snap.total;
  const engine::engine_counters& c = s.counters;
  families f;
  auto& build = f.add("turnpike_build_info", "Turnpike version (value 1).", MetricType::Gauge);
  f.value(build, 1, {{"version", TURNPIKE_VERSION}});
  f.single("turnpike_shards", "Shards (threads with their own event loop).", MetricType::Gauge,
           static_cast<double>(srv.shard_count()));
  f.single("turnpike_shards_answering", "Shards that answered this scrape within 2 s.",
           MetricType::Gauge, static_cast<double>(snap.answered));
  f.single("turnpike_draining", "1 while draining: new allocations are refused.", MetricType::Gauge,
           draining ? 1 : 0);
  // Per shard: how the kernel's SO_REUSEPORT hash spread clients over the shards, and how busy
  // each shard's thread is (a rate near 1 CPU second per second: that shard is saturated,
  // whatever the others do).
  auto& shard_cpu = f.add("turnpike_shard_cpu_seconds_total", "CPU time of each shard's thread.",
                          MetricType::Counter);
  auto& shard_allocs =
      f.add("turnpike_shard_allocations", "Allocations held by each shard.", MetricType::Gauge);
  auto& shard_packets = f.add("turnpike_shard_received_packets_total",
                              "Client packets each shard received.", MetricType::Counter);
  for (std::size_t i = 0; i < snap.shards.size(); ++i) {
    if (!snap.shards[i]) continue;  // did not answer within the limit
    const net::shard_snapshot& one = *snap.shards[i];
    const std::vector<ClientMetric::Label> labels{{"shard", std::to_string(i)}};
    f.value(shard_cpu, one.cpu_seconds, labels);
    f.value(shard_allocs, static_cast<double>(one.gauges.allocations_total()), labels);
    f.value(shard_packets, static_cast<double>(one.counters.packets_in), labels);
  }

  auto& allocs = f.add("turnpike_allocations",
                       "Relayed addresses allocated now, by client transport and relay family.",
                       MetricType::Gauge);
  for (std::size_t t = 0; t < transport_labels.size(); ++t) {
    for (std::size_t fam = 0; fam < family_labels.size(); ++fam) {
      f.value(allocs, static_cast<double>(s.gauges.allocations[t][fam]),
              {{"family", family_labels[fam]}, {"transport", transport_labels[t]}});
    }
  }
  f.single("turnpike_permissions", "Permissions installed now.", MetricType::Gauge,
           static_cast<double>(s.gauges.permissions));
  f.single("turnpike_channels", "Channels bound now.", MetricType::Gauge,
           static_cast<double>(s.gauges.channels));
  f.single("turnpike_allocations_pending", "Allocate requests waiting for a quota answer.",
           MetricType::Gauge, static_cast<double>(s.gauges.pending_allocates));
  // Every listed counter: the engine's, the shard's own, DTLS's.
#define TURNPIKE_RENDER_COUNTER(member, family, label, help) \
  f.listed(family, label, MetricType::Counter, help, c.member);
  TURNPIKE_ENGINE_COUNTERS(TURNPIKE_RENDER_COUNTER)
#undef TURNPIKE_RENDER_COUNTER
#define TURNPIKE_RENDER_STAT(member, family, label, type, help) \
  f.listed(family, label, MetricType::type, help, s.member);
  TURNPIKE_SHARD_STATS(TURNPIKE_RENDER_STAT)
#undef TURNPIKE_RENDER_STAT
#define TURNPIKE_RENDER_DTLS(member, family, label, help) \
  f.listed(family, label, MetricType::Counter, help, s.dtls.member);
  TURNPIKE_DTLS_COUNTERS(TURNPIKE_RENDER_DTLS)
#undef TURNPIKE_RENDER_DTLS

  auto& packets = f.add("turnpike_relayed_packets_total",
                        "Packets relayed, by client transport and direction.", MetricType::Counter);
  auto& bytes =
      f.add("turnpike_relayed_bytes_total",
            "Application bytes relayed, by client transport and direction.", MetricType::Counter);
  for (std::size_t t = 0; t < transport_labels.size(); ++t) {
    for (std::size_t d = 0; d < direction_labels.size(); ++d) {
      std::vector<ClientMetric::Label> labels{{"direction", direction_labels[d]},
                                              {"transport", transport_labels[t]}};
      f.value(packets, static_cast<double>(c.relayed_packets_by[t][d]), labels);
      f.value(bytes, static_cast<double>(c.relayed_bytes_by[t][d]), labels);
    }
  }

  auto& responses =
      f.add("turnpike_responses_total", "Answers sent, by method and code.", MetricType::Counter);
  double quota_refusals = 0;
  for (std::size_t m = 0; m < engine::response_methods.size(); ++m) {
    for (std::size_t k = 0; k < engine::response_codes.size(); ++k) {
      const auto n = c.responses[m][k];
      // Always the common pairs (so rate() has a series from the start), others once seen.
      const bool common = k == 0 && m < 3;
      if (n == 0 && !common) continue;
      const auto code = engine::response_codes[k];
      if (code == 486) quota_refusals += static_cast<double>(n);
      f.value(responses, static_cast<double>(n),
              {{"code", code == 0 ? std::string("other") : std::to_string(code)},
               {"method", engine::response_method_names[m]}});
    }
  }
  f.single("turnpike_quota_refusals_total", "Allocate requests refused by a quota (486).",
           MetricType::Counter, quota_refusals);
  auto& auth = f.add("turnpike_auth_failures_total",
                     "Requests that did not authenticate, by reason (challenge: the first 401 "
                     "of every exchange).",
                     MetricType::Counter);
  for (std::size_t r = 0; r < engine::auth_failure_names.size(); ++r) {
    f.value(auth, static_cast<double>(c.auth_failures[r]),
            {{"reason", engine::auth_failure_names[r]}});
  }
  if (const auto kernel = srv.kernel_relay_outcomes()) {
    auto& seen = f.add("turnpike_kernel_relay_datagrams_total",
                       "kernel-relay: datagrams the XDP program relayed or left to user space, "
                       "by outcome.",
                       MetricType::Counter);
    for (std::size_t i = 0; i < kernel->size(); ++i) {
      f.value(seen, static_cast<double>((*kernel)[i]), {{"outcome", net::kernel_outcome_names[i]}});
    }
  }
  f.single("turnpike_relay_ports", "Relay ports available: min-port..max-port per relay IP in use.",
           MetricType::Gauge, static_cast<double>(srv.relay_port_capacity()));

  auto& handling = f.add("turnpike_request_handling_seconds",
                         "Time a shard spent on one STUN message (Redis waits excluded).",
                         MetricType::Histogram);
  ClientMetric h;
  std::uint64_t cumulative = 0;
  for (std::size_t i = 0; i < s.handling.counts.size(); ++i) {
    cumulative += s.handling.counts[i];
    const double bound = i < net::handling_histogram::bounds.size()
                             ? net::handling_histogram::bounds[i]
                             : std::numeric_limits<double>::infinity();
    h.histogram.bucket.push_back({cumulative, bound});
  }
  h.histogram.sample_count = cumulative;
  h.histogram.sample_sum = s.handling.sum;
  handling.metric.push_back(std::move(h));

  if (signaling != nullptr) {
    const auto& g = *signaling;
    auto gauge = [&](const char* name, const char* help, const std::atomic<std::uint64_t>& v) {
      f.single(name, help, MetricType::Gauge, static_cast<double>(v.load()));
    };
    auto counter = [&](const char* name, const char* help, const std::atomic<std::uint64_t>& v) {
      f.single(name, help, MetricType::Counter, static_cast<double>(v.load()));
    };
    gauge("turnpike_signaling_connections", "Signaling connections open now (HTTP and WebSocket).",
          g.connections);
    gauge("turnpike_signaling_websockets", "Signaling WebSockets open now.", g.websockets);
    gauge("turnpike_signaling_rooms", "Signaling rooms with at least one peer.", g.rooms);
    gauge("turnpike_signaling_peers", "Peers in signaling rooms (WebSocket and HTTP).", g.peers);
    counter("turnpike_signaling_refused_connections_total",
            "Signaling connections closed by signaling-connections-per-ip.", g.refused_connections);
    counter("turnpike_signaling_relayed_total", "Signaling messages handed to peers.", g.relayed);
    counter("turnpike_signaling_errors_total",
            "Signaling requests and messages answered with an error.", g.errors);
    counter("turnpike_signaling_credentials_issued_total",
            "TURN credentials issued by /ice-servers.", g.credentials_issued);
    counter("turnpike_signaling_credentials_refused_total",
            "/ice-servers requests without the right API key (401).", g.credentials_refused);
    counter("turnpike_signaling_credentials_throttled_total",
            "/ice-servers requests refused unread after too many wrong API keys from their "
            "source (429).",
            g.credentials_throttled);
  }

  for (auto& family : srv.registry()->Collect()) f.append(std::move(family));  // Redis
  process_metrics(f);
  std::ostringstream out;
  prometheus::TextSerializer().Serialize(out, f.take());
  return out.str();
}

namespace {

// The sessions API over the running server: each shard answers on its own thread; one that
// does not within two seconds is left out (as for a scrape).
class server_sessions final : public sessions_backend {
 public:
  explicit server_sessions(const net::server& srv) : srv_(srv) {}
  std::vector<row> list(const engine::session_filter& filter, bool& complete) override {
    auto r = srv_.sessions(filter, std::chrono::seconds(2));
    complete = r.complete;
    std::vector<row> out;
    for (auto& one : r.rows) out.push_back({one.shard, std::move(one.info)});
    return out;
  }
  std::size_t end(const engine::session_filter& filter, std::optional<std::size_t> shard,
                  bool& complete) override {
    const auto r = srv_.end_sessions(filter, shard, std::chrono::seconds(2));
    complete = r.complete;
    return r.ended;
  }

 private:
  const net::server& srv_;
};

// One HTTP/1.1 connection: requests answered in turn until the client closes or is silent
// for 30 s.
class session : public std::enable_shared_from_this<session> {
 public:
  session(boost::asio::ip::tcp::socket socket, const net::server& srv,
          const signaling::signaling_stats* signaling, const std::string& path,
          const std::string& admin_api_key, const std::atomic<bool>& draining)
      : stream_(std::move(socket)),
        srv_(srv),
        signaling_(signaling),
        path_(path),
        admin_api_key_(admin_api_key),
        draining_(draining) {}
  void start() { read(); }

 private:
  void read() {
    parser_.emplace();
    limit_request(*parser_);
    stream_.expires_after(std::chrono::seconds(30));
    http::async_read(stream_, buffer_, *parser_,
                     [self = shared_from_this()](beast::error_code ec, std::size_t) {
                       if (ec) return;
                       self->answer(self->parser_->release());
                     });
  }
  void answer(const http::request<http::string_body>& req) {
    std::shared_ptr<http::response<http::string_body>> res;
    if (!admin_api_key_.empty() && is_sessions_path(req.target())) {
      server_sessions backend(srv_);
      res = std::make_shared<http::response<http::string_body>>(
          answer_sessions(req, admin_api_key_, srv_.realm(), backend));
    } else {
      res = std::make_shared<http::response<http::string_body>>(answer_request(
          req, path_, draining_, [this] { return render(srv_, draining_, signaling_); }));
    }
    http::async_write(
        stream_, *res, [self = shared_from_this(), res](beast::error_code ec, std::size_t) {
          if (ec || !res->keep_alive()) {
            beast::error_code ignored;
            self->stream_.socket().shutdown(boost::asio::ip::tcp::socket::shutdown_send, ignored);
            return;
          }
          self->read();
        });
  }

  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  const net::server& srv_;
  const signaling::signaling_stats* signaling_;
  const std::string& path_;
  const std::string& admin_api_key_;
  const std::atomic<bool>& draining_;
};

}  // namespace

metrics_server::metrics_server(const net::server& srv, const protocol::transport_address& at,
                               std::string path, const signaling::signaling_stats* signaling,
                               std::string admin_api_key)
    : srv_(srv),
      signaling_(signaling),
      path_(std::move(path)),
      admin_api_key_(std::move(admin_api_key)),
      acceptor_(io_) {
  local_ = net::listen_on(acceptor_, at, "prometheus");
  accept();
  thread_ = std::thread([this] { io_.run(); });
}

metrics_server::~metrics_server() {
  boost::asio::post(io_, [this] {
    boost::system::error_code ignored;
    acceptor_.close(ignored);
    io_.stop();
  });
  if (thread_.joinable()) thread_.join();
}

void metrics_server::accept() {
  acceptor_.async_accept([this](boost::system::error_code ec, boost::asio::ip::tcp::socket s) {
    if (ec == boost::asio::error::operation_aborted || !acceptor_.is_open()) return;
    if (!ec)
      std::make_shared<session>(std::move(s), srv_, signaling_, path_, admin_api_key_, draining_)
          ->start();
    accept();
  });
}

}  // namespace turnpike::server::metrics
