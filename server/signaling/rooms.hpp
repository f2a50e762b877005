// SPDX-License-Identifier: Apache-2.0
// Signaling rooms, sans-IO: peers join a room by name, and what one peer sends is handed to the
// others (or to one of them). A peer is either a live connection (a WebSocket: `peer_link`
// delivers at once) or an HTTP client that polls (its messages wait in a bounded mailbox until
// it asks, and it is dropped when it stops asking). Every limit lives here: peers per room,
// rooms per IP, peers in all, bytes waiting for one peer. One thread owns a `rooms`; nothing
// here locks, sleeps or touches a socket.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace turnpike::server::signaling {

using clock = std::chrono::steady_clock;
using text = std::shared_ptr<const std::string>;  // one JSON message, shared by its recipients

// Why a request was refused; error_name() is the "error" member of the JSON answer.
enum class error {
  bad_json,     // not JSON, or not an object
  bad_message,  // a JSON object without what its type needs
  message_too_big,
  bad_room,  // a room name outside [A-Za-z0-9._~-]{1,64}
  not_joined,
  already_joined,
  room_full,       // peers-per-room
  too_many_rooms,  // rooms-per-ip
  server_full,     // peers in the whole service
  unknown_peer,    // a "to" or token that names no one
  unknown_room,
  unauthorized,
  throttled,  // too many wrong API keys from this source (key_throttle.hpp)
  not_found,
  method_not_allowed,
};
const char* error_name(error e) noexcept;

struct limits {
  unsigned peers_per_room = 8;
  unsigned rooms_per_ip = 10;
  std::size_t max_peers = 10000;    // in the whole service
  std::size_t max_message = 65536;  // one message, in bytes
  std::size_t backlog_bytes =
      std::size_t{4} * 65536;     // waiting for one peer (mailbox or write queue)
  std::chrono::seconds idle{60};  // an HTTP peer that does not poll is dropped
};

// What a mailbox entry is, so a poll can ask for one kind.
enum class kind { offer, answer, candidate, event };

// A live connection's side of a peer (a WebSocket session).
class peer_link {
 public:
  virtual ~peer_link() = default;
  // Queue `message` for sending. The link enforces limits::backlog_bytes itself (closing the
  // connection of a reader too slow to keep up).
  virtual void deliver(const text& message) = 0;
};

struct room_counts {
  std::size_t rooms = 0;
  std::size_t peers = 0;
};

class rooms {
 public:
  explicit rooms(limits l);

  struct joined {
    std::string peer;   // public id, what others see in "from"
    std::string token;  // secret that identifies an HTTP peer (empty for a link)
    std::vector<std::string> others;
  };
  struct join_result {
    std::optional<joined> ok;
    error failure = error::bad_room;
  };
  // `ip` counts towards rooms-per-ip. `link` null: an HTTP peer with a mailbox.
  join_result join(std::string_view room, const std::string& ip, peer_link* link,
                   clock::time_point now);
  // Removes the peer and tells the others ("peer-left"). Unknown ids are ignored.
  void leave(const std::string& id);

  struct relay_result {
    std::size_t delivered = 0;
    std::optional<error> failure;
  };
  // Hands `message` from `peer` to `to` (same room) or to every other peer in its room.
  relay_result relay(const std::string& peer, const std::optional<std::string>& to, kind k,
                     const text& message);

  // The HTTP peer holding `token` (and seen now), or null.
  const std::string* peer_for_token(std::string_view token, clock::time_point now);
  // Takes the messages waiting for HTTP peer `peer`: those of kind `k`, or all when nullopt,
  // in the order they came.
  std::vector<text> take(const std::string& id, std::optional<kind> k);
  // Drops HTTP peers that have not polled for limits::idle. Returns how many.
  std::size_t expire(clock::time_point now);

  const std::string* room_of(const std::string& id) const;
  bool room_exists(std::string_view room) const { return rooms_.count(std::string(room)) > 0; }
  room_counts counts() const noexcept;
  const limits& limit() const noexcept { return limits_; }

  static bool valid_room_name(std::string_view name) noexcept;

 private:
  struct queued {
    kind k;
    text message;
  };
  struct peer {
    std::string id;
    std::string room;
    std::string ip;
    std::string token;
    peer_link* link = nullptr;
    std::deque<queued> mailbox;
    std::size_t mailbox_bytes = 0;
    clock::time_point last_seen;
  };
  // Puts `message` on its way to `p`; false when p's mailbox would overflow (p must go).
  bool hand(peer& p, kind k, const text& message);
  void announce(const std::string& room, const std::string& except, const text& message,
                std::vector<std::string>& overflowed);
  void remove(const std::string& id, std::vector<std::string>& overflowed);
  std::string fresh_id(std::size_t bytes) const;

  limits limits_;
  std::unordered_map<std::string, peer> peers_;            // by public id
  std::map<std::string, std::vector<std::string>> rooms_;  // room -> peer ids, join order
  std::unordered_map<std::string, std::string> tokens_;    // token -> peer id
  std::unordered_map<std::string, std::map<std::string, unsigned>> ip_rooms_;  // ip -> room -> n
};

}  // namespace turnpike::server::signaling
