// SPDX-License-Identifier: Apache-2.0
#include "auth/sql_realm.hpp"

#include <charconv>

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
  const auto option_rows =
      connection_->query("SELECT opt, value FROM turn_realm_option WHERE realm = $1", {realm_});
  if (!option_rows) return std::nullopt;
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
  std::optional<unsigned> user_quota, total_quota;
  std::vector<std::string> rejected;
  for (const auto& row : *option_rows) {
    if (row.size() < 2 || !row[0] || !row[1]) continue;
    if (*row[0] == "max-bps") {
      max_bps = row[1];
    } else if (*row[0] == "user-quota" || *row[0] == "total-quota") {
      unsigned n = 0;
      const auto& v = *row[1];
      const auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
      if (ec != std::errc{} || end != v.data() + v.size()) {
        rejected.push_back(*row[0] + "=" + v);
      } else {
        (*row[0] == "user-quota" ? user_quota : total_quota) = n;
      }
    }
  }
  auto o = make_realm_options(max_bps, *allowed, *denied);
  o.user_quota = user_quota;
  o.total_quota = total_quota;
  o.rejected.insert(o.rejected.end(), rejected.begin(), rejected.end());
  return o;
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
