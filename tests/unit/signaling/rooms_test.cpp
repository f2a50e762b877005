// SPDX-License-Identifier: Apache-2.0
// Rooms without sockets: joining, relaying to all or one, every limit, mailboxes and expiry.
#include "server/signaling/rooms.hpp"

#include <gtest/gtest.h>

namespace turnpike::server::signaling {
namespace {

using namespace std::chrono_literals;

struct recorder final : peer_link {
  void deliver(const text& m) override { got.push_back(*m); }
  std::vector<std::string> got;
};

text msg(std::string s) {
  return std::make_shared<const std::string>(std::move(s));
}

const clock::time_point t0{};

TEST(Rooms, JoinTellsTheOthersAndListsThem) {
  rooms r({});
  recorder a, b;
  auto ja = r.join("room-1", "10.0.0.1", &a, t0);
  ASSERT_TRUE(ja.ok);
  EXPECT_TRUE(ja.ok->others.empty());
  EXPECT_TRUE(ja.ok->token.empty());  // a link needs no token
  auto jb = r.join("room-1", "10.0.0.2", &b, t0);
  ASSERT_TRUE(jb.ok);
  EXPECT_EQ(jb.ok->others, std::vector<std::string>{ja.ok->peer});
  ASSERT_EQ(a.got.size(), 1u);
  EXPECT_EQ(a.got[0], R"({"type":"peer-joined","peer":")" + jb.ok->peer + "\"}");
  EXPECT_TRUE(b.got.empty());
  EXPECT_EQ(r.counts().rooms, 1u);
  EXPECT_EQ(r.counts().peers, 2u);
}

TEST(Rooms, RelayReachesEveryoneElseOrOnlyTheNamedPeer) {
  rooms r({});
  recorder a, b, c;
  const auto pa = r.join("x", "ip", &a, t0).ok->peer;
  const auto pb = r.join("x", "ip", &b, t0).ok->peer;
  const auto pc = r.join("x", "ip", &c, t0).ok->peer;
  a.got.clear();
  b.got.clear();
  auto all = r.relay(pa, std::nullopt, kind::offer, msg("o"));
  EXPECT_FALSE(all.failure);
  EXPECT_EQ(all.delivered, 2u);
  EXPECT_TRUE(a.got.empty());
  EXPECT_EQ(b.got.back(), "o");
  EXPECT_EQ(c.got.back(), "o");
  auto one = r.relay(pb, pc, kind::answer, msg("to-c"));
  EXPECT_EQ(one.delivered, 1u);
  EXPECT_EQ(c.got.back(), "to-c");
  EXPECT_TRUE(a.got.empty() || a.got.back() != "to-c");
  // A peer of another room, itself, or nobody: unknown-peer.
  recorder d;
  const auto pd = r.join("y", "ip", &d, t0).ok->peer;
  EXPECT_EQ(r.relay(pa, pd, kind::offer, msg("no")).failure, error::unknown_peer);
  EXPECT_EQ(r.relay(pa, pa, kind::offer, msg("no")).failure, error::unknown_peer);
  EXPECT_EQ(r.relay(pa, std::string("ffff"), kind::offer, msg("no")).failure, error::unknown_peer);
  EXPECT_TRUE(d.got.empty());
  EXPECT_EQ(r.relay("nobody", std::nullopt, kind::offer, msg("no")).failure, error::not_joined);
}

TEST(Rooms, RoomNamesAreChecked) {
  rooms r({});
  recorder a;
  for (const std::string& bad : std::vector<std::string>{"", "a b", "x/y", "caf\xc3\xa9",
                                                         "<script>", std::string(65, 'a')}) {
    auto j = r.join(bad, "ip", &a, t0);
    EXPECT_FALSE(j.ok) << bad;
    EXPECT_EQ(j.failure, error::bad_room) << bad;
  }
  EXPECT_TRUE(r.join(std::string(64, 'a'), "ip", &a, t0).ok);
  EXPECT_TRUE(r.join("A-z_0.9~", "ip", &a, t0).ok);
}

TEST(Rooms, PeersPerRoomLimit) {
  limits l;
  l.peers_per_room = 2;
  rooms r(l);
  recorder a, b, c;
  EXPECT_TRUE(r.join("x", "1", &a, t0).ok);
  const auto pb = r.join("x", "2", &b, t0).ok->peer;
  auto third = r.join("x", "3", &c, t0);
  EXPECT_FALSE(third.ok);
  EXPECT_EQ(third.failure, error::room_full);
  r.leave(pb);  // a place frees up
  EXPECT_TRUE(r.join("x", "3", &c, t0).ok);
}

TEST(Rooms, RoomsPerIpLimitCountsRoomsNotPeers) {
  limits l;
  l.rooms_per_ip = 2;
  rooms r(l);
  recorder a;
  const auto p1 = r.join("one", "198.51.100.1", &a, t0).ok->peer;
  EXPECT_TRUE(r.join("one", "198.51.100.1", &a, t0).ok);  // same room again: still one room
  EXPECT_TRUE(r.join("two", "198.51.100.1", &a, t0).ok);
  auto third = r.join("three", "198.51.100.1", &a, t0);
  EXPECT_FALSE(third.ok);
  EXPECT_EQ(third.failure, error::too_many_rooms);
  EXPECT_TRUE(r.join("three", "198.51.100.2", &a, t0).ok);  // another IP
  // Leaving one of two peers in "one" keeps the room counted; leaving the other frees it.
  r.leave(p1);
  EXPECT_FALSE(r.join("three", "198.51.100.1", &a, t0).ok);
}

TEST(Rooms, ServiceWidePeerLimit) {
  limits l;
  l.max_peers = 3;
  rooms r(l);
  recorder a;
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(r.join("r" + std::to_string(i), "ip", &a, t0).ok);
  auto j = r.join("more", "other", &a, t0);
  EXPECT_EQ(j.failure, error::server_full);
}

TEST(Rooms, HttpPeersGetATokenAndAMailboxTakenByKind) {
  rooms r({});
  recorder a;
  const auto pa = r.join("x", "ip", &a, t0).ok->peer;
  auto jh = r.join("x", "ip", nullptr, t0);
  ASSERT_TRUE(jh.ok);
  EXPECT_EQ(jh.ok->token.size(), 32u);
  const std::string ph = jh.ok->peer;
  EXPECT_EQ(*r.peer_for_token(jh.ok->token, t0), ph);
  EXPECT_EQ(r.peer_for_token("not-a-token", t0), nullptr);
  r.relay(pa, std::nullopt, kind::offer, msg("offer-1"));
  r.relay(pa, std::nullopt, kind::candidate, msg("cand-1"));
  r.relay(pa, std::nullopt, kind::candidate, msg("cand-2"));
  auto offers = r.take(ph, kind::offer);
  ASSERT_EQ(offers.size(), 1u);
  EXPECT_EQ(*offers[0], "offer-1");
  EXPECT_TRUE(r.take(ph, kind::answer).empty());
  auto rest = r.take(ph, std::nullopt);
  ASSERT_EQ(rest.size(), 2u);
  EXPECT_EQ(*rest[0], "cand-1");
  EXPECT_EQ(*rest[1], "cand-2");
  EXPECT_TRUE(r.take(ph, std::nullopt).empty());
}

TEST(Rooms, HttpPeerThatStopsPollingIsDroppedAndTheOthersAreTold) {
  limits l;
  l.idle = 10s;
  rooms r(l);
  recorder a;
  r.join("x", "ip", &a, t0);
  auto jh = r.join("x", "ip", nullptr, t0);
  const std::string token = jh.ok->token;
  EXPECT_EQ(r.expire(t0 + 9s), 0u);
  r.peer_for_token(token, t0 + 9s);  // polling keeps it
  EXPECT_EQ(r.expire(t0 + 18s), 0u);
  EXPECT_EQ(r.expire(t0 + 19s), 1u);
  EXPECT_EQ(r.peer_for_token(token, t0 + 19s), nullptr);
  EXPECT_EQ(a.got.back(), R"({"type":"peer-left","peer":")" + jh.ok->peer + "\"}");
  EXPECT_EQ(r.counts().peers, 1u);  // links are never expired here (the connection times out)
}

TEST(Rooms, OverflowingMailboxDropsThatPeerNotTheSender) {
  limits l;
  l.backlog_bytes = 100;
  rooms r(l);
  recorder a;
  const auto pa = r.join("x", "ip", &a, t0).ok->peer;
  auto jh = r.join("x", "ip", nullptr, t0);
  a.got.clear();
  EXPECT_EQ(r.relay(pa, std::nullopt, kind::candidate, msg(std::string(60, 'c'))).delivered, 1u);
  const auto second = r.relay(pa, std::nullopt, kind::candidate, msg(std::string(60, 'c')));
  EXPECT_EQ(second.delivered, 0u);
  EXPECT_FALSE(second.failure);
  EXPECT_EQ(r.peer_for_token(jh.ok->token, t0), nullptr);
  ASSERT_FALSE(a.got.empty());
  EXPECT_NE(a.got.back().find("peer-left"), std::string::npos);
  EXPECT_EQ(r.counts().peers, 1u);
}

TEST(Rooms, LastPeerLeavingRemovesTheRoom) {
  rooms r({});
  recorder a;
  const auto p = r.join("x", "ip", &a, t0).ok->peer;
  EXPECT_TRUE(r.room_exists("x"));
  r.leave(p);
  EXPECT_FALSE(r.room_exists("x"));
  EXPECT_EQ(r.counts().rooms, 0u);
  r.leave(p);  // twice: nothing
  r.leave("unknown");
}

}  // namespace
}  // namespace turnpike::server::signaling
