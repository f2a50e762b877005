// SPDX-License-Identifier: Apache-2.0
// Redis for the fleet: coturn's `redis-userdb` connection string, one blocking hiredis
// connection (`redis_connection`, for the admin tool and the client thread), and
// `redis_client`: a dedicated thread with a bounded queue, so shards never wait on Redis.
// Every command is an argument vector (redisCommandArgv), never a formatted string, so no
// username or realm can change what is sent.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "auth/redis_endpoint.hpp"

struct redisContext;

namespace turnpike::auth {

// A reply, copied out of hiredis.
struct redis_reply {
  enum class kind { nil, string, integer, array, status, error };
  kind type = kind::nil;
  std::string str;
  long long integer = 0;
  std::vector<redis_reply> elements;
};

using redis_command = std::vector<std::string>;

// One blocking connection. Not thread-safe.
class redis_connection {
 public:
  redis_connection() = default;
  ~redis_connection();
  redis_connection(const redis_connection&) = delete;
  redis_connection& operator=(const redis_connection&) = delete;

  // Connects, authenticates and selects the database. On failure returns false and sets
  // error(). `command_timeout` bounds every later round trip.
  bool connect(const redis_endpoint& where, std::chrono::milliseconds command_timeout);
  bool connected() const noexcept { return ctx_ != nullptr; }
  void disconnect() noexcept;
  // Sends all commands in one round trip. nullopt (and disconnected) on an I/O error or
  // timeout; a Redis error reply comes back as kind::error.
  std::optional<std::vector<redis_reply>> run(const std::vector<redis_command>& commands);
  const std::string& error() const noexcept { return error_; }

 private:
  redisContext* ctx_ = nullptr;
  std::string error_;
};

struct redis_client_stats {
  std::uint64_t round_trips = 0;
  std::uint64_t failures = 0;    // I/O errors, timeouts, and requests failed while down
  std::uint64_t queue_full = 0;  // refused because the queue was full
  std::uint64_t connects = 0;    // successful (re)connections
};

// A thread that owns one redis_connection. Requests queue (bounded); each batch of commands
// is one round trip. While Redis is unreachable, requests fail at once (nullopt) and the
// thread reconnects with exponential backoff (100 ms doubling to 5 s).
class redis_client {
 public:
  // nullopt: Redis unavailable. Runs on the client thread.
  using callback = std::function<void(std::optional<std::vector<redis_reply>>)>;

  // Told the duration of every round trip and whether it succeeded (metrics); on the client
  // thread.
  using round_trip_observer = std::function<void(double seconds, bool ok)>;

  explicit redis_client(redis_endpoint where, std::size_t queue_limit = 4096,
                        std::chrono::milliseconds command_timeout = std::chrono::seconds(1),
                        round_trip_observer observer = nullptr);
  ~redis_client();
  redis_client(const redis_client&) = delete;
  redis_client& operator=(const redis_client&) = delete;

  // False (and `done` not called) when the queue is full.
  bool submit(std::vector<redis_command> commands, callback done);
  bool up() const;
  redis_client_stats stats() const;

 private:
  struct job {
    std::vector<redis_command> commands;
    callback done;
  };
  void run();

  redis_endpoint where_;
  std::size_t queue_limit_;
  std::chrono::milliseconds command_timeout_;
  round_trip_observer observer_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<job> queue_;
  bool stopping_ = false;
  bool up_ = false;
  redis_client_stats stats_;
  std::thread thread_;
};

}  // namespace turnpike::auth
