// SPDX-License-Identifier: Apache-2.0
// spdlog sinks and the JSON-lines formatter.
#include "server/log/log.hpp"

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/sinks/syslog_sink.h>
#include <spdlog/spdlog.h>
#include <syslog.h>

#include <ctime>

namespace turnpike::server::log {
namespace {

// One JSON object per line: {"ts":"...Z","level":"info","msg":"..."}.
class json_formatter final : public spdlog::formatter {
 public:
  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
    using namespace std::chrono;
    const auto t = system_clock::to_time_t(msg.time);
    std::tm tm{};
    gmtime_r(&t, &tm);
    const auto ms = duration_cast<milliseconds>(msg.time.time_since_epoch()).count() % 1000;
    char ts[40];
    const std::size_t n = std::strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%S", &tm);
    (void)std::snprintf(ts + n, sizeof ts - n, ".%03dZ", static_cast<int>(ms));
    append("{\"ts\":\"", dest);
    append(ts, dest);
    append("\",\"level\":\"", dest);
    const auto level = spdlog::level::to_string_view(msg.level);
    dest.append(level.data(), level.data() + level.size());
    append("\",\"msg\":\"", dest);
    escape(std::string_view(msg.payload.data(), msg.payload.size()), dest);
    append("\"}\n", dest);
  }
  std::unique_ptr<spdlog::formatter> clone() const override {
    return std::make_unique<json_formatter>();
  }

 private:
  static void append(std::string_view s, spdlog::memory_buf_t& dest) {
    dest.append(s.data(), s.data() + s.size());
  }
  static void escape(std::string_view s, spdlog::memory_buf_t& dest) {
    for (char c : s) {
      switch (c) {
        case '"':
          append("\\\"", dest);
          break;
        case '\\':
          append("\\\\", dest);
          break;
        case '\n':
          append("\\n", dest);
          break;
        case '\r':
          append("\\r", dest);
          break;
        case '\t':
          append("\\t", dest);
          break;
        default:
          if (static_cast<unsigned char>(c) < 0x20) {
            char buf[8];
            (void)std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned>(c));
            append(buf, dest);
          } else {
            dest.push_back(c);
          }
      }
    }
  }
};

spdlog::level::level_enum to_spdlog(config::log_level l) {
  switch (l) {
    case config::log_level::trace:
      return spdlog::level::trace;
    case config::log_level::debug:
      return spdlog::level::debug;
    case config::log_level::info:
      return spdlog::level::info;
    case config::log_level::warning:
      return spdlog::level::warn;
    case config::log_level::error:
      return spdlog::level::err;
  }
  return spdlog::level::info;
}

}  // namespace

void init(const config::server_config& cfg) {
  std::vector<spdlog::sink_ptr> sinks;
  if (cfg.stdout_log) sinks.push_back(std::make_shared<spdlog::sinks::stdout_sink_mt>());
  if (!cfg.log_file.empty()) {
    try {
      sinks.push_back(std::make_shared<spdlog::sinks::basic_file_sink_mt>(cfg.log_file));
    } catch (const spdlog::spdlog_ex& e) {
      throw config::config_error("log-file: " + cfg.log_file + ": " + e.what());
    }
  }
  if (cfg.syslog) {
    // Syslog adds its own timestamp and level: send the bare message (or the JSON object).
    auto s = std::make_shared<spdlog::sinks::syslog_sink_mt>(
        "turnpike", LOG_PID, config::syslog_facility_code(cfg.syslog_facility).value_or(LOG_USER),
        true);
    if (cfg.format == config::log_format::plain) {
      s->set_formatter(std::make_unique<spdlog::pattern_formatter>("%v"));
    }
    sinks.push_back(std::move(s));
  }
  auto logger = std::make_shared<spdlog::logger>("turnpike", sinks.begin(), sinks.end());
  for (auto& s : sinks) {
    if (cfg.syslog && s == sinks.back() && cfg.format == config::log_format::plain) continue;
    if (cfg.format == config::log_format::json) {
      s->set_formatter(std::make_unique<json_formatter>());
    } else {
      s->set_formatter(std::make_unique<spdlog::pattern_formatter>("%Y-%m-%dT%H:%M:%S.%e%z %l %v"));
    }
  }
  logger->set_level(to_spdlog(cfg.level));
  logger->flush_on(spdlog::level::info);
  spdlog::set_default_logger(std::move(logger));
}

void shutdown() {
  spdlog::default_logger()->flush();
  spdlog::shutdown();
}

}  // namespace turnpike::server::log
