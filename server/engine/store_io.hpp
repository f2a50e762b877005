// SPDX-License-Identifier: Apache-2.0
// What the engine asks of the stores behind it: a user's long-term keys (auth::key_source) and
// allocation quotas (auth::allocation_quota). A question goes out with an ask id; its answer
// comes back as an input call, engine::on_key_answer / engine::on_quota_answer, carrying that
// id and the time at which the answer arrived: possibly before the question's call returns
// (a store in memory), possibly after a network round trip (Redis, SQL). An answer whose
// question the engine no longer waits for is ignored (a granted quota is given back).
// store_link.hpp joins these questions to auth/'s stores; tests and the fuzzer answer them
// directly.
#pragma once

#include <cstdint>
#include <string_view>

namespace turnpike::server::engine {

using ask_id = std::uint64_t;

class store_io {
 public:
  // Answered by engine::on_key_answer(ask, ...). `unix_now` is for time-limited credentials.
  virtual void find_key(ask_id ask, std::string_view username, std::string_view realm,
                        std::int64_t unix_now) = 0;
  // Answered by engine::on_quota_answer(lease, ...): the lease names the allocation.
  virtual void acquire_quota(std::uint64_t lease, std::string_view user,
                             std::string_view realm) = 0;
  // Only after a granted acquire_quota; no answer.
  virtual void release_quota(std::uint64_t lease, std::string_view user,
                             std::string_view realm) = 0;

 protected:
  ~store_io() = default;
};

}  // namespace turnpike::server::engine
