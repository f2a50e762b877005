// SPDX-License-Identifier: Apache-2.0
// Failed API keys on the signaling port, per source: an IPv4 address, or an IPv6 /64 (one
// host commonly holds a whole /64). Each source has a bucket of `burst` failures that refills
// one every `refill`; once it is empty, the source's requests for credentials are refused
// (429, Retry-After) without the key being looked at, so guessing keys costs one try per
// `refill` per source. Sources whose bucket is full again are forgotten; at most
// `max_sources` are tracked at once (beyond that a new source goes untracked, and counted).
// What happened is summed for a log line at most once per `report_every`. No sockets, no
// threads: the signaling service calls it with the time.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

namespace turnpike::server::signaling {

class key_throttle {
 public:
  using clock = std::chrono::steady_clock;
  struct settings {
    unsigned burst = 10;
    clock::duration refill = std::chrono::seconds(6);
    std::size_t max_sources = 65536;
    clock::duration report_every = std::chrono::seconds(10);
  };
  // Since the last report: failed keys, requests refused unread, sources that hit the limit,
  // sources not tracked (the table full), and the source with the most failures.
  struct report {
    std::uint64_t failed = 0;
    std::uint64_t throttled = 0;
    std::uint64_t sources_throttled = 0;
    std::uint64_t untracked = 0;
    std::string loudest;
    std::uint64_t loudest_failed = 0;
  };

  explicit key_throttle(settings s) : s_(s) {}

  // How long requests from `ip` must wait before a key of theirs is looked at; zero: go
  // ahead. A request told to wait is counted as throttled.
  clock::duration wait(std::string_view ip, clock::time_point now);
  // A key from `ip` that did not match.
  void failed(std::string_view ip, clock::time_point now);
  // Forgets the sources whose bucket is full again.
  void expire(clock::time_point now);
  // The sums since the last report, once `report_every` has passed since it and something
  // happened; nothing otherwise.
  std::optional<report> take_report(clock::time_point now);

  std::size_t sources() const noexcept { return sources_.size(); }
  // The source key of an address: itself for IPv4 (and IPv4-mapped IPv6), its /64 for IPv6.
  static std::string source_of(std::string_view ip);

 private:
  struct source {
    clock::time_point full_at;  // when its bucket is full again
    std::uint64_t failed = 0;   // since the last report
    bool throttled = false;     // since the last report
  };
  clock::duration allowance() const { return s_.refill * (s_.burst - 1); }

  settings s_;
  std::unordered_map<std::string, source> sources_;
  report pending_;
  std::optional<clock::time_point> last_report_;
};

}  // namespace turnpike::server::signaling
