// SPDX-License-Identifier: Apache-2.0
// Rooms, peers, mailboxes and their limits.
#include "server/signaling/rooms.hpp"

#include <openssl/rand.h>

#include <algorithm>

namespace turnpike::server::signaling {

const char* error_name(error e) noexcept {
  switch (e) {
    case error::bad_json:
      return "bad-json";
    case error::bad_message:
      return "bad-message";
    case error::message_too_big:
      return "message-too-big";
    case error::bad_room:
      return "bad-room";
    case error::not_joined:
      return "not-joined";
    case error::already_joined:
      return "already-joined";
    case error::room_full:
      return "room-full";
    case error::too_many_rooms:
      return "too-many-rooms";
    case error::server_full:
      return "server-full";
    case error::unknown_peer:
      return "unknown-peer";
    case error::unknown_room:
      return "unknown-room";
    case error::unauthorized:
      return "unauthorized";
    case error::throttled:
      return "throttled";
    case error::not_found:
      return "not-found";
    case error::method_not_allowed:
      return "method-not-allowed";
  }
  return "error";
}

namespace {

// Ids and room names are [A-Za-z0-9._~-], so these need no JSON escaping.
text peer_event(const char* type, const std::string& id) {
  return std::make_shared<const std::string>(
      std::string(R"({"type":")").append(type).append(R"(","peer":")").append(id).append("\"}"));
}

}  // namespace

rooms::rooms(limits l) : limits_(l) {}

bool rooms::valid_room_name(std::string_view name) noexcept {
  if (name.empty() || name.size() > 64) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == '~' || c == '-';
  });
}

std::string rooms::fresh_id(std::size_t bytes) const {
  static constexpr char hex[] = "0123456789abcdef";
  for (;;) {
    unsigned char raw[32];
    RAND_bytes(raw, static_cast<int>(bytes));
    std::string id;
    for (std::size_t i = 0; i < bytes; ++i) {
      id += hex[raw[i] >> 4];
      id += hex[raw[i] & 0xf];
    }
    if (peers_.count(id) == 0 && tokens_.count(id) == 0) return id;
  }
}

rooms::join_result rooms::join(std::string_view room, const std::string& ip, peer_link* link,
                               clock::time_point now) {
  join_result r;
  if (!valid_room_name(room)) {
    r.failure = error::bad_room;
    return r;
  }
  const std::string name(room);
  if (peers_.size() >= limits_.max_peers) {
    r.failure = error::server_full;
    return r;
  }
  const auto existing = rooms_.find(name);
  if (existing != rooms_.end() && existing->second.size() >= limits_.peers_per_room) {
    r.failure = error::room_full;
    return r;
  }
  auto& mine = ip_rooms_[ip];
  if (mine.count(name) == 0 && mine.size() >= limits_.rooms_per_ip) {
    if (mine.empty()) ip_rooms_.erase(ip);
    r.failure = error::too_many_rooms;
    return r;
  }
  peer p;
  p.id = fresh_id(8);
  p.room = name;
  p.ip = ip;
  p.link = link;
  p.last_seen = now;
  if (link == nullptr) {
    p.token = fresh_id(16);
    tokens_.emplace(p.token, p.id);
  }
  joined j;
  j.peer = p.id;
  j.token = p.token;
  auto& members = rooms_[name];
  j.others = members;
  ++mine[name];
  members.push_back(p.id);
  peers_.emplace(p.id, std::move(p));
  std::vector<std::string> overflowed;
  announce(name, j.peer, peer_event("peer-joined", j.peer), overflowed);
  for (std::size_t i = 0; i < overflowed.size(); ++i) remove(overflowed[i], overflowed);
  r.ok = std::move(j);
  return r;
}

bool rooms::hand(peer& p, kind k, const text& message) {
  if (p.link != nullptr) {
    p.link->deliver(message);
    return true;
  }
  if (p.mailbox_bytes + message->size() > limits_.backlog_bytes) return false;
  p.mailbox_bytes += message->size();
  p.mailbox.push_back({k, message});
  return true;
}

void rooms::announce(const std::string& room, const std::string& except, const text& message,
                     std::vector<std::string>& overflowed) {
  const auto it = rooms_.find(room);
  if (it == rooms_.end()) return;
  for (const auto& id : it->second) {
    if (id == except) continue;
    auto p = peers_.find(id);
    if (p != peers_.end() && !hand(p->second, kind::event, message)) overflowed.push_back(id);
  }
}

void rooms::remove(const std::string& id, std::vector<std::string>& overflowed) {
  const auto it = peers_.find(id);
  if (it == peers_.end()) return;
  const std::string room = it->second.room;
  const std::string ip = it->second.ip;
  if (!it->second.token.empty()) tokens_.erase(it->second.token);
  peers_.erase(it);
  auto r = rooms_.find(room);
  if (r != rooms_.end()) {
    std::erase(r->second, id);
    if (r->second.empty()) rooms_.erase(r);
  }
  auto ipr = ip_rooms_.find(ip);
  if (ipr != ip_rooms_.end()) {
    auto n = ipr->second.find(room);
    if (n != ipr->second.end() && --n->second == 0) ipr->second.erase(n);
    if (ipr->second.empty()) ip_rooms_.erase(ipr);
  }
  announce(room, id, peer_event("peer-left", id), overflowed);
}

void rooms::leave(const std::string& id) {
  std::vector<std::string> gone{id};
  for (std::size_t i = 0; i < gone.size(); ++i) remove(gone[i], gone);
}

rooms::relay_result rooms::relay(const std::string& from, const std::optional<std::string>& to,
                                 kind k, const text& message) {
  relay_result r;
  const auto sender = peers_.find(from);
  if (sender == peers_.end()) {
    r.failure = error::not_joined;
    return r;
  }
  const auto members = rooms_.find(sender->second.room);
  if (members == rooms_.end()) {
    r.failure = error::not_joined;
    return r;
  }
  std::vector<std::string> overflowed;
  if (to) {
    const auto target = peers_.find(*to);
    if (target == peers_.end() || target->second.room != sender->second.room || *to == from) {
      r.failure = error::unknown_peer;
      return r;
    }
    if (hand(target->second, k, message)) {
      r.delivered = 1;
    } else {
      overflowed.push_back(*to);
    }
  } else {
    for (const auto& id : members->second) {
      if (id == from) continue;
      auto p = peers_.find(id);
      if (p == peers_.end()) continue;
      if (hand(p->second, k, message)) {
        ++r.delivered;
      } else {
        overflowed.push_back(id);
      }
    }
  }
  for (std::size_t i = 0; i < overflowed.size(); ++i) remove(overflowed[i], overflowed);
  return r;
}

const std::string* rooms::peer_for_token(std::string_view token, clock::time_point now) {
  const auto t = tokens_.find(std::string(token));
  if (t == tokens_.end()) return nullptr;
  auto p = peers_.find(t->second);
  if (p == peers_.end()) return nullptr;
  p->second.last_seen = now;
  return &p->second.id;
}

std::vector<text> rooms::take(const std::string& id, std::optional<kind> k) {
  std::vector<text> out;
  const auto it = peers_.find(id);
  if (it == peers_.end()) return out;
  peer& p = it->second;
  std::deque<queued> kept;
  for (auto& q : p.mailbox) {
    if (!k || q.k == *k) {
      p.mailbox_bytes -= q.message->size();
      out.push_back(std::move(q.message));
    } else {
      kept.push_back(std::move(q));
    }
  }
  p.mailbox = std::move(kept);
  return out;
}

std::size_t rooms::expire(clock::time_point now) {
  std::vector<std::string> gone;
  for (const auto& [id, p] : peers_) {
    if (p.link == nullptr && now - p.last_seen >= limits_.idle) gone.push_back(id);
  }
  const std::size_t n = gone.size();
  for (std::size_t i = 0; i < gone.size(); ++i) remove(gone[i], gone);
  return n;
}

const std::string* rooms::room_of(const std::string& id) const {
  const auto it = peers_.find(id);
  return it == peers_.end() ? nullptr : &it->second.room;
}

room_counts rooms::counts() const noexcept {
  room_counts c;
  c.rooms = rooms_.size();
  c.peers = peers_.size();
  return c;
}

}  // namespace turnpike::server::signaling
