// SPDX-License-Identifier: Apache-2.0
#include "auth/sql_users.hpp"

#include "auth/cached_users.hpp"

namespace turnpike::auth {

sql_user_store::sql_user_store(std::unique_ptr<sql_connection> connection, std::size_t queue_limit)
    : connection_(std::move(connection)), queue_limit_(queue_limit) {
  thread_ = std::thread([this] { loop(); });
}

sql_user_store::~sql_user_store() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  thread_.join();
  for (auto& j : queue_) j.done(std::nullopt);
}

bool sql_user_store::check(std::string& error) {
  std::lock_guard lock(mutex_);  // the thread takes the connection under this lock too
  if (connection_->connect()) return true;
  error = connection_->error();
  return false;
}

sql_users_stats sql_user_store::stats() const {
  std::lock_guard lock(mutex_);
  return stats_;
}

void sql_user_store::fetch(std::string_view realm, std::string_view user, bool with_secrets,
                           callback done) {
  {
    std::lock_guard lock(mutex_);
    if (!stopping_ && queue_.size() < queue_limit_) {
      queue_.push_back({std::string(realm), std::string(user), with_secrets, std::move(done)});
      wake_.notify_one();
      return;
    }
    ++stats_.failures;
  }
  done(std::nullopt);
}

void sql_user_store::loop() {
  std::unique_lock lock(mutex_);
  for (;;) {
    wake_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
    if (stopping_) return;
    job j = std::move(queue_.front());
    queue_.pop_front();
    ++stats_.queries;
    // The connection is this thread's; the lock only guards the queue and the stats (and
    // check(), which runs before the first lookup).
    lock.unlock();
    auto answer = run(j);
    lock.lock();
    if (!answer) ++stats_.failures;
    lock.unlock();
    j.done(std::move(answer));
    lock.lock();
  }
}

std::optional<stored_user> sql_user_store::run(const job& j) {
  const auto now = std::chrono::steady_clock::now();
  if (!connection_->connected()) {
    if (now < next_connect_) return std::nullopt;  // tried within the last second
    next_connect_ = now + std::chrono::seconds(1);
    if (!connection_->connect()) return std::nullopt;
  }
  stored_user u;
  const auto key = connection_->query(
      "SELECT hmackey FROM turnusers_lt WHERE name = $1 AND realm = $2", {j.user, j.realm});
  if (!key) return std::nullopt;
  for (const auto& row : *key) {
    if (row.empty() || !row[0]) continue;
    // coturn pads char(128) columns in some databases: the key is the hex up to a blank.
    std::string hex = *row[0];
    while (!hex.empty() && hex.back() == ' ') hex.pop_back();
    if (auto parsed = parse_hex_key(hex)) {
      u.found_user = true;
      u.key = *parsed;
      break;
    }
  }
  if (j.with_secrets) {
    const auto secrets =
        connection_->query("SELECT value FROM turn_secret WHERE realm = $1", {j.realm});
    if (!secrets) return std::nullopt;
    for (const auto& row : *secrets) {
      if (!row.empty() && row[0] && !row[0]->empty()) u.secrets.push_back(*row[0]);
    }
  }
  return u;
}

}  // namespace turnpike::auth
