// SPDX-License-Identifier: Apache-2.0
// The poller on socketpairs: typed keys come back as registered, every ready socket is read
// once a round, a socket whose read left data is read again from a posted handler, rounds are
// bracketed, re-keying and closing work.
#include "server/net/poller.hpp"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <map>
#include <vector>

namespace turnpike::server::net {
namespace {

struct pair_of_sockets {
  int ends[2] = {-1, -1};
  pair_of_sockets() { EXPECT_EQ(::socketpair(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK, 0, ends), 0); }
  ~pair_of_sockets() {
    ::close(ends[0]);
    ::close(ends[1]);
  }
  int reader() const { return ends[0]; }
  void write(const char* text) const { ASSERT_GT(::send(ends[1], text, 1, 0), 0); }
};

struct recording_handler final : poll_handler {
  std::vector<poll_key> reads;
  std::map<std::uint32_t, int> fds;  // key number -> socket, read one datagram per call
  int open_rounds = 0;
  int rounds = 0;
  bool nested = false;
  bool read_ready(poll_key key) noexcept override {
    if (open_rounds != 1) nested = true;
    reads.push_back(key);
    char c;
    ::recv(fds[key.number], &c, 1, MSG_DONTWAIT);
    char peek;
    return ::recv(fds[key.number], &peek, 1, MSG_DONTWAIT | MSG_PEEK) > 0;  // more left
  }
  void round_started() noexcept override { ++open_rounds; }
  void round_ended(int) noexcept override {
    --open_rounds;
    ++rounds;
  }
};

TEST(PollKey, PacksAndUnpacksEveryKind) {
  for (auto kind : {poll_key::kind::listener, poll_key::kind::relay,
                    poll_key::kind::connected_relay, poll_key::kind::mux}) {
    for (std::uint32_t n : {0u, 1u, 0xFFFFFFFFu}) {
      const poll_key k{kind, n};
      EXPECT_EQ(poll_key::unpack(k.pack()), k);
    }
  }
  EXPECT_NE((poll_key{poll_key::kind::relay, 7}).pack(),
            (poll_key{poll_key::kind::connected_relay, 7}).pack());
}

TEST(Poller, ReadsReadySocketsByKeyAndAgainWhileDataIsLeft) {
  boost::asio::io_context io;
  recording_handler h;
  poller p(io, h);
  pair_of_sockets a, b, idle;
  h.fds = {{1, a.reader()}, {2, b.reader()}, {3, idle.reader()}};
  p.watch(a.reader(), {poll_key::kind::relay, 1});
  p.watch(b.reader(), {poll_key::kind::listener, 2});
  p.watch(idle.reader(), {poll_key::kind::mux, 3});
  p.start();
  a.write("x");
  a.write("y");  // two datagrams: the first read leaves one
  b.write("z");
  while (h.reads.size() < 3) ASSERT_EQ(io.run_one_for(std::chrono::seconds(5)), 1u);
  // Whatever else ran, the socket that still had data was read again and nothing is left.
  io.poll();
  std::map<std::uint32_t, int> per_key;
  for (const auto& k : h.reads) ++per_key[k.number];
  EXPECT_EQ(per_key[1], 2);
  EXPECT_EQ(per_key[2], 1);
  EXPECT_EQ(per_key[3], 0);
  for (const auto& k : h.reads) {
    EXPECT_EQ(k.what, k.number == 1 ? poll_key::kind::relay : poll_key::kind::listener);
  }
  EXPECT_FALSE(h.nested);  // every read inside exactly one open round
  EXPECT_EQ(h.open_rounds, 0);
  EXPECT_GE(h.rounds, 2);
  p.close();
}

TEST(Poller, ARekeyedSocketComesBackUnderItsNewKey) {
  boost::asio::io_context io;
  recording_handler h;
  poller p(io, h);
  pair_of_sockets s;
  h.fds = {{5, s.reader()}, {6, s.reader()}};
  p.watch(s.reader(), {poll_key::kind::relay, 5});
  p.rekey(s.reader(), {poll_key::kind::relay, 6});
  p.start();
  s.write("x");
  while (h.reads.empty()) ASSERT_EQ(io.run_one_for(std::chrono::seconds(5)), 1u);
  EXPECT_EQ(h.reads[0], (poll_key{poll_key::kind::relay, 6}));
  EXPECT_THROW(p.watch(-1, {}), boost::system::system_error);
  p.close();
  EXPECT_FALSE(p.is_open());
  io.poll();  // the pending wait ends without a read
  EXPECT_EQ(h.reads.size(), 1u);
}

}  // namespace
}  // namespace turnpike::server::net
