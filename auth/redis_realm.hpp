// SPDX-License-Identifier: Apache-2.0
// A realm's options (realm_options.hpp) kept in Redis in coturn's layout, read again every few
// seconds:
//   turn/realm/<realm>/max-bps          bytes per second per allocation (0: unlimited)
//   turn/realm/<realm>/allowed-peer-ip  set of IPs or ranges (a-b or CIDR), added to the
//   turn/realm/<realm>/denied-peer-ip   configured allowed-/denied-peer-ip lists
// (user-quota and total-quota are read by the quota script itself, on every Allocate.)
// The watcher calls back only when something changed; a value it cannot parse is skipped
// and named in `rejected`.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "auth/realm_options.hpp"
#include "auth/redis_client.hpp"

namespace turnpike::auth {

// Builds options from the three replies (GET max-bps, SMEMBERS allowed, SMEMBERS denied).
realm_options parse_realm_options(const std::vector<redis_reply>& replies);

class redis_realm_watch {
 public:
  using callback = std::function<void(const realm_options&)>;
  // `changed` runs on the Redis client thread: first after the first successful read, then
  // after each read that differs from the last.
  redis_realm_watch(redis_client& client, std::string realm, std::chrono::seconds every,
                    callback changed);
  ~redis_realm_watch();
  // Stops polling (idempotent). Replies already queued may still call back afterwards, so
  // the watcher must outlive the client's thread.
  void stop();
  redis_realm_watch(const redis_realm_watch&) = delete;
  redis_realm_watch& operator=(const redis_realm_watch&) = delete;

 private:
  void loop();

  redis_client& client_;
  std::string realm_;
  std::chrono::seconds every_;
  callback changed_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::optional<realm_options> last_;  // guarded by mutex_
  std::thread thread_;
};

}  // namespace turnpike::auth
