// SPDX-License-Identifier: Apache-2.0
#include "auth/sql_realm.hpp"

namespace turnpike::auth {

sql_realm_watch::sql_realm_watch(std::unique_ptr<sql_connection> connection, std::string realm,
                                 std::chrono::seconds every, callback changed)
    : connection_(std::move(connection)),
      realm_(std::move(realm)),
      every_(every),
      changed_(std::move(changed)),
      thread_([this] { loop(); }) {}

sql_realm_watch::~sql_realm_watch() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  thread_.join();
}

std::optional<realm_options> sql_realm_watch::read() {
  const auto option = connection_->query(
      "SELECT value FROM turn_realm_option WHERE realm = $1 AND opt = 'max-bps'", {realm_});
  if (!option) return std::nullopt;
  auto column = [&](const char* sql) -> std::optional<std::vector<std::string>> {
    const auto rows = connection_->query(sql, {realm_});
    if (!rows) return std::nullopt;
    std::vector<std::string> out;
    for (const auto& r : *rows) {
      if (!r.empty() && r[0]) out.push_back(*r[0]);
    }
    return out;
  };
  const auto allowed = column("SELECT ip_range FROM allowed_peer_ip WHERE realm = $1");
  const auto denied = column("SELECT ip_range FROM denied_peer_ip WHERE realm = $1");
  if (!allowed || !denied) return std::nullopt;
  std::optional<std::string> max_bps;
  if (!option->empty() && !option->front().empty()) max_bps = option->front()[0];
  return make_realm_options(max_bps, *allowed, *denied);
}

void sql_realm_watch::loop() {
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    lock.unlock();
    const auto o = read();  // nullopt: unreachable, keep what is in force
    if (o && (!last_ || *last_ != *o)) {
      last_ = o;
      changed_(*o);
    }
    lock.lock();
    wake_.wait_for(lock, every_, [&] { return stopping_; });
  }
}

}  // namespace turnpike::auth
