// SPDX-License-Identifier: Apache-2.0
#include "server/engine/store_link.hpp"

#include "server/engine/engine.hpp"

namespace turnpike::server::engine {

store_link::store_link(auth::key_source* keys, auth::allocation_quota* quota,
                       clock_function read_clock, std::function<void()> after) noexcept
    : keys_(keys), quota_(quota), clock_(std::move(read_clock)), after_(std::move(after)) {}

void store_link::find_key(ask_id ask, std::string_view username, std::string_view realm,
                          std::int64_t unix_now) {
  if (keys_ == nullptr) {
    if (engine_ != nullptr)
      engine_->on_key_answer(ask, {auth::lookup_status::unavailable, {}}, clock_());
    return;
  }
  keys_->find_key(username, realm, unix_now, [this, ask](const auth::lookup_result& r) {
    if (engine_ == nullptr) return;
    engine_->on_key_answer(ask, r, clock_());
    if (after_) after_();
  });
}

void store_link::acquire_quota(std::uint64_t lease, std::string_view user, std::string_view realm) {
  if (quota_ == nullptr) {
    if (engine_ != nullptr) engine_->on_quota_answer(lease, auth::quota_verdict::granted, clock_());
    return;
  }
  quota_->acquire(user, realm, lease, [this, lease](auth::quota_verdict v) {
    if (engine_ == nullptr) return;
    engine_->on_quota_answer(lease, v, clock_());
    if (after_) after_();
  });
}

void store_link::release_quota(std::uint64_t lease, std::string_view user, std::string_view realm) {
  if (quota_ != nullptr) quota_->release(user, realm, lease);
}

}  // namespace turnpike::server::engine
