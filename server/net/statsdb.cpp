// SPDX-License-Identifier: Apache-2.0
// coturn-format allocation reports to Redis.
#include "server/net/statsdb.hpp"

#include <cstdio>
#include <string>

namespace turnpike::server::net {
namespace {

// 17 bits of process tag, 6 of shard, 36 of allocation number: below 10^18.
constexpr unsigned shard_shift = 36;
constexpr unsigned tag_shift = 42;
constexpr std::uint64_t number_mask = (std::uint64_t{1} << shard_shift) - 1;

std::string traffic_text(const engine::allocation_traffic& t) {
  return "rcvp=" + std::to_string(t.received_packets) +
         ", rcvb=" + std::to_string(t.received_bytes) +
         ", sentp=" + std::to_string(t.sent_packets) + ", sentb=" + std::to_string(t.sent_bytes);
}

}  // namespace

statsdb_reporter::statsdb_reporter(auth::redis_client& client, std::uint32_t process_tag,
                                   unsigned shard)
    : client_(client),
      id_base_((std::uint64_t{process_tag & 0x1FFFFu} << tag_shift) |
               (std::uint64_t{shard & 0x3Fu} << shard_shift)) {}

void statsdb_reporter::on_allocation(const engine::allocation_event& e) {
  char id[24];
  (void)std::snprintf(id, sizeof id, "%018llu",
                      static_cast<unsigned long long>(id_base_ | (e.id & number_mask)));
  std::string prefix = "turn/realm/";
  prefix.append(e.realm).append("/user/").append(e.user).append("/allocation/").append(id);
  const std::string status = prefix + "/status";
  std::vector<auth::redis_command> cmds;
  switch (e.what) {
    case engine::allocation_event::kind::created:
    case engine::allocation_event::kind::refreshed: {
      const std::string text =
          std::string(e.what == engine::allocation_event::kind::created ? "new" : "refreshed") +
          " lifetime=" + std::to_string(e.lifetime);
      cmds.push_back({"SET", status, text, "EX", std::to_string(std::max(1u, e.lifetime))});
      cmds.push_back({"PUBLISH", status, text});
      if (e.what == engine::allocation_event::kind::refreshed) {
        cmds.push_back({"PUBLISH", prefix + "/traffic", traffic_text(e.traffic)});
      }
      break;
    }
    case engine::allocation_event::kind::deleted:
      cmds.push_back({"DEL", status});
      cmds.push_back({"PUBLISH", status, "deleted"});
      cmds.push_back({"PUBLISH", prefix + "/total_traffic", traffic_text(e.traffic)});
      break;
  }
  client_.submit(std::move(cmds), [](const std::optional<std::vector<auth::redis_reply>>&) {});
}

}  // namespace turnpike::server::net
