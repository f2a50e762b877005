// SPDX-License-Identifier: Apache-2.0
// hiredis (0.14) behind a blocking connection and a client thread with a bounded queue.
#include "auth/redis_client.hpp"

#include <hiredis/hiredis.h>

#include <charconv>
#include <stdexcept>

namespace turnpike::auth {
namespace {

using steady = std::chrono::steady_clock;

timeval to_timeval(std::chrono::milliseconds d) {
  return timeval{static_cast<time_t>(d.count() / 1000),
                 static_cast<suseconds_t>((d.count() % 1000) * 1000)};
}

redis_reply convert(const redisReply* r) {
  redis_reply out;
  switch (r->type) {
    case REDIS_REPLY_STRING:
      out.type = redis_reply::kind::string;
      out.str.assign(r->str, r->len);
      break;
    case REDIS_REPLY_STATUS:
      out.type = redis_reply::kind::status;
      out.str.assign(r->str, r->len);
      break;
    case REDIS_REPLY_ERROR:
      out.type = redis_reply::kind::error;
      out.str.assign(r->str, r->len);
      break;
    case REDIS_REPLY_INTEGER:
      out.type = redis_reply::kind::integer;
      out.integer = r->integer;
      break;
    case REDIS_REPLY_ARRAY:
      out.type = redis_reply::kind::array;
      out.elements.reserve(r->elements);
      for (std::size_t i = 0; i < r->elements; ++i) out.elements.push_back(convert(r->element[i]));
      break;
    default:
      out.type = redis_reply::kind::nil;
  }
  return out;
}

}  // namespace

// ---------------------------------------------------------------- redis_connection

redis_connection::~redis_connection() {
  disconnect();
}

void redis_connection::disconnect() noexcept {
  if (ctx_ != nullptr) redisFree(ctx_);
  ctx_ = nullptr;
}

bool redis_connection::connect(const redis_endpoint& where,
                               std::chrono::milliseconds command_timeout) {
  disconnect();
  redisContext* c = redisConnectWithTimeout(
      where.host.c_str(), where.port,
      to_timeval(std::chrono::duration_cast<std::chrono::milliseconds>(where.connect_timeout)));
  if (c == nullptr || c->err != 0) {
    error_ = c == nullptr ? std::string("out of memory") : std::string(c->errstr);
    if (c != nullptr) redisFree(c);
    return false;
  }
  redisSetTimeout(c, to_timeval(command_timeout));
  redisEnableKeepAlive(c);
  ctx_ = c;
  std::vector<redis_command> setup;
  if (!where.password.empty()) {
    if (where.user.empty()) {
      setup.push_back({"AUTH", where.password});
    } else {
      setup.push_back({"AUTH", where.user, where.password});
    }
  }
  if (where.db != 0) setup.push_back({"SELECT", std::to_string(where.db)});
  // Up only once Redis answers: a frozen (black-holed) server still completes the TCP
  // handshake from its listen backlog.
  setup.push_back({"PING"});
  auto replies = run(setup);
  if (!replies) return false;
  for (const auto& r : *replies) {
    if (r.type == redis_reply::kind::error) {
      error_ = r.str;
      disconnect();
      return false;
    }
  }
  return true;
}

std::optional<std::vector<redis_reply>> redis_connection::run(
    const std::vector<redis_command>& commands) {
  if (ctx_ == nullptr) return std::nullopt;
  std::vector<const char*> argv;
  std::vector<std::size_t> lens;
  for (const auto& cmd : commands) {
    argv.clear();
    lens.clear();
    for (const auto& a : cmd) {
      argv.push_back(a.data());
      lens.push_back(a.size());
    }
    if (redisAppendCommandArgv(ctx_, static_cast<int>(argv.size()), argv.data(), lens.data()) !=
        REDIS_OK) {
      error_ = ctx_->errstr;
      disconnect();
      return std::nullopt;
    }
  }
  std::vector<redis_reply> out;
  out.reserve(commands.size());
  for (std::size_t i = 0; i < commands.size(); ++i) {
    void* raw = nullptr;
    if (redisGetReply(ctx_, &raw) != REDIS_OK || raw == nullptr) {
      error_ = ctx_->err != 0 ? std::string(ctx_->errstr) : std::string("no reply");
      disconnect();
      return std::nullopt;
    }
    out.push_back(convert(static_cast<redisReply*>(raw)));
    freeReplyObject(raw);
  }
  return out;
}

// ---------------------------------------------------------------- redis_client

redis_client::redis_client(redis_endpoint where, std::size_t queue_limit,
                           std::chrono::milliseconds command_timeout, round_trip_observer observer)
    : where_(std::move(where)),
      queue_limit_(queue_limit),
      command_timeout_(command_timeout),
      observer_(std::move(observer)),
      thread_([this] { run(); }) {}

redis_client::~redis_client() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  thread_.join();
}

bool redis_client::submit(std::vector<redis_command> commands, callback done) {
  {
    std::lock_guard lock(mutex_);
    if (queue_.size() >= queue_limit_ || stopping_) {
      ++stats_.queue_full;
      return false;
    }
    queue_.push_back(job{std::move(commands), std::move(done)});
  }
  wake_.notify_one();
  return true;
}

bool redis_client::up() const {
  std::lock_guard lock(mutex_);
  return up_;
}

redis_client_stats redis_client::stats() const {
  std::lock_guard lock(mutex_);
  return stats_;
}

void redis_client::run() {
  redis_connection conn;
  auto backoff = std::chrono::milliseconds(100);
  steady::time_point next_attempt{};
  auto try_connect = [&] {
    if (conn.connected() || steady::now() < next_attempt) return;
    if (conn.connect(where_, command_timeout_)) {
      backoff = std::chrono::milliseconds(100);
      std::lock_guard lock(mutex_);
      ++stats_.connects;
      up_ = true;
      return;
    }
    next_attempt = steady::now() + backoff;
    backoff = std::min<std::chrono::milliseconds>(backoff * 2, std::chrono::seconds(5));
  };
  std::unique_lock lock(mutex_);
  for (;;) {
    // Wakes for work, and at least once a second to reconnect without waiting for traffic.
    wake_.wait_for(lock, std::chrono::seconds(1), [&] { return stopping_ || !queue_.empty(); });
    if (stopping_) break;
    if (queue_.empty()) {
      // Idle: reconnect if down, or check the connection is alive (a killed or black-holed
      // Redis is noticed within a second or two, not at the next user's request).
      lock.unlock();
      if (conn.connected() && !conn.run({{"PING"}})) {
        next_attempt = steady::now() + backoff;
      }
      try_connect();
      lock.lock();
      up_ = conn.connected();
      continue;
    }
    job j = std::move(queue_.front());
    queue_.pop_front();
    lock.unlock();
    try_connect();
    std::optional<std::vector<redis_reply>> replies;
    if (conn.connected()) {
      const auto started = steady::now();
      replies = conn.run(j.commands);
      if (observer_) {
        observer_(std::chrono::duration<double>(steady::now() - started).count(),
                  replies.has_value());
      }
      if (!replies) {
        next_attempt = steady::now() + backoff;
        backoff = std::min<std::chrono::milliseconds>(backoff * 2, std::chrono::seconds(5));
      }
    }
    lock.lock();
    up_ = conn.connected();
    if (replies) {
      ++stats_.round_trips;
    } else {
      ++stats_.failures;
    }
    lock.unlock();
    j.done(std::move(replies));
    lock.lock();
  }
  // Stopping: whatever is still queued fails.
  std::deque<job> left;
  left.swap(queue_);
  lock.unlock();
  for (auto& j : left) j.done(std::nullopt);
}

}  // namespace turnpike::auth
