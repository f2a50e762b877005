// SPDX-License-Identifier: Apache-2.0
// redis-statsdb: allocation status keys and traffic publications in coturn's format, so tools
// written against coturn's statsdb keep working:
//   SET     turn/realm/<realm>/user/<user>/allocation/<id>/status "new lifetime=600" EX 600
//   SET     ... "refreshed lifetime=600" EX 600, and PUBLISH of each on the same channel
//   PUBLISH .../allocation/<id>/traffic "rcvp=N, rcvb=N, sentp=N, sentb=N"  (on refresh)
//   DEL     .../status, PUBLISH .../status "deleted",
//   PUBLISH .../allocation/<id>/total_traffic "rcvp=N, rcvb=N, sentp=N, sentb=N"  (at the end)
// <id> is 18 decimal digits: a random per-process part, the shard and the engine's allocation
// number, so servers sharing a statsdb never touch each other's keys. The status key expires
// with the allocation even if this server dies. Commands are queued to the statsdb client
// thread and never wait; a full queue drops the report (counted by the client).
#pragma once

#include <cstdint>

#include "auth/redis_client.hpp"
#include "server/engine/types.hpp"

namespace turnpike::server::net {

class statsdb_reporter final : public engine::allocation_observer {
 public:
  // `process_tag`: random, the same for every shard of this process.
  statsdb_reporter(auth::redis_client& client, std::uint32_t process_tag, unsigned shard);
  void on_allocation(const engine::allocation_event& e) override;

 private:
  auth::redis_client& client_;
  std::uint64_t id_base_;
};

}  // namespace turnpike::server::net
