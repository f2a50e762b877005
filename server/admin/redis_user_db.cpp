// SPDX-License-Identifier: Apache-2.0
// turnpike-admin over Redis, in the key layout coturn's turnadmin -N writes.
#include <algorithm>

#include "auth/redis_users.hpp"
#include "server/admin/user_db.hpp"

namespace turnpike::admin {
namespace {

using auth::redis_command;
using auth::redis_reply;

// SCAN MATCH pattern text that matches `s` literally.
std::string glob_escape(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (c == '*' || c == '?' || c == '[' || c == ']' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  return out;
}

const std::vector<std::string> option_names{"user-quota", "total-quota", "max-bps"};

class redis_user_db final : public user_db {
 public:
  bool open(const auth::redis_endpoint& where) {
    if (conn_.connect(where, std::chrono::seconds(5))) return true;
    error_ = "cannot reach Redis at " + where.host + ":" + std::to_string(where.port) + ": " +
             conn_.error();
    return false;
  }
  bool add_user(const std::string& realm, const std::string& user,
                const std::string& hex_key) override {
    return run({{"SET", auth::redis_user_key(realm, user), hex_key}}).has_value();
  }
  bool delete_user(const std::string& realm, const std::string& user) override {
    return run({{"DEL", auth::redis_user_key(realm, user)}}).has_value();
  }
  std::optional<pairs> users(const std::string& realm) override {
    // SCAN (never KEYS) over turn/realm/<realm or *>/user/*/key.
    const std::string pattern =
        "turn/realm/" + (realm.empty() ? std::string("*") : glob_escape(realm)) + "/user/*/key";
    pairs found;
    std::string cursor = "0";
    do {
      auto r = run({{"SCAN", cursor, "MATCH", pattern, "COUNT", "1000"}});
      if (!r) return std::nullopt;
      if ((*r)[0].elements.size() != 2) {
        error_ = "unexpected SCAN reply";
        return std::nullopt;
      }
      cursor = (*r)[0].elements[0].str;
      for (const auto& k : (*r)[0].elements[1].elements) {
        const std::string& name = k.str;  // turn/realm/<realm>/user/<user>/key
        const auto user_at = name.find("/user/");
        if (user_at == std::string::npos || name.size() < user_at + 6 + 4) continue;
        found.emplace_back(name.substr(user_at + 6, name.size() - 4 - (user_at + 6)),
                           name.substr(11, user_at - 11));
      }
    } while (cursor != "0");
    std::sort(found.begin(), found.end());
    found.erase(std::unique(found.begin(), found.end()), found.end());
    return found;
  }
  bool add_secret(const std::string& realm, const std::string& secret) override {
    return run({{"SADD", auth::redis_secret_key(realm), secret}}).has_value();
  }
  bool delete_secret(const std::string& realm, const std::string& secret) override {
    return run({{"SREM", auth::redis_secret_key(realm), secret}}).has_value();
  }
  std::optional<std::vector<std::string>> secrets(const std::string& realm) override {
    auto r = run({{"SMEMBERS", auth::redis_secret_key(realm)}});
    if (!r) return std::nullopt;
    std::vector<std::string> out;
    for (const auto& e : (*r)[0].elements) out.push_back(e.str);
    std::sort(out.begin(), out.end());
    return out;
  }
  bool set_option(const std::string& realm, const std::string& name,
                  const std::string& value) override {
    return run({{"SET", auth::redis_realm_option_key(realm, name), value}}).has_value();
  }
  std::optional<pairs> options(const std::string& realm) override {
    std::vector<redis_command> cmds;
    cmds.reserve(option_names.size());
    for (const auto& n : option_names) {
      cmds.push_back({"GET", auth::redis_realm_option_key(realm, n)});
    }
    auto r = run(cmds);
    if (!r) return std::nullopt;
    pairs out;
    for (std::size_t i = 0; i < option_names.size(); ++i) {
      if ((*r)[i].type == redis_reply::kind::string) out.emplace_back(option_names[i], (*r)[i].str);
    }
    return out;
  }
  const std::string& error() const override { return error_; }

 private:
  std::optional<std::vector<redis_reply>> run(const std::vector<redis_command>& cmds) {
    auto r = conn_.run(cmds);
    if (!r) {
      error_ = "Redis: " + conn_.error();
      return std::nullopt;
    }
    for (const auto& reply : *r) {
      if (reply.type == redis_reply::kind::error) {
        error_ = "Redis: " + reply.str;
        return std::nullopt;
      }
    }
    return r;
  }

  auth::redis_connection conn_;
  std::string error_;
};

}  // namespace

std::unique_ptr<user_db> open_redis_user_db(const auth::redis_endpoint& where, std::string& error) {
  auto db = std::make_unique<redis_user_db>();
  if (!db->open(where)) {
    error = db->error();
    return nullptr;
  }
  return db;
}

}  // namespace turnpike::admin
