// SPDX-License-Identifier: Apache-2.0
// Joins the engine's questions (store_io) to auth/'s stores: a key_source for long-term keys
// and an allocation_quota, either of which may be absent. Each answer is delivered into the
// engine as an input call with the time read from the injected clock when the answer
// arrives, then `after` runs (the shard re-arms its timer). The stores call back on the
// caller's executor (their contract), so answers enter the engine on its own thread.
#pragma once

#include <functional>

#include "auth/key_source.hpp"
#include "auth/quota.hpp"
#include "server/engine/allocation.hpp"
#include "server/engine/store_io.hpp"

namespace turnpike::server::engine {

class engine;

class store_link final : public store_io {
 public:
  using clock_function = std::function<instant()>;
  store_link(auth::key_source* keys, auth::allocation_quota* quota, clock_function read_clock,
             std::function<void()> after = {}) noexcept;
  store_link(const store_link&) = delete;
  store_link& operator=(const store_link&) = delete;
  // The engine the answers go to (constructed after this link, which it is given).
  void attach(engine& e) noexcept { engine_ = &e; }

  void find_key(ask_id ask, std::string_view username, std::string_view realm,
                std::int64_t unix_now) override;
  void acquire_quota(std::uint64_t lease, std::string_view user, std::string_view realm) override;
  void release_quota(std::uint64_t lease, std::string_view user, std::string_view realm) override;

 private:
  auth::key_source* keys_;
  auth::allocation_quota* quota_;
  clock_function clock_;
  std::function<void()> after_;
  engine* engine_ = nullptr;
};

}  // namespace turnpike::server::engine
