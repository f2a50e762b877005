// SPDX-License-Identifier: Apache-2.0
// Stream framer: recorded Chromium TURN-over-TCP streams split at every offset give the same
// frames as the whole stream; malformed streams are refused early.
#include <gtest/gtest.h>

#include <random>

#include "protocol/framer.hpp"
#include "protocol/message.hpp"
#include "support/hex.hpp"

namespace turnpike::protocol {
namespace {

using test::bytes;
using test::from_hex;

struct framed {
  frame_kind kind;
  bytes message;
  friend bool operator==(const framed&, const framed&) = default;
};

// Feeds `chunks` one by one into a reassembly buffer, as a socket reader would, and returns
// the frames in order. Stops at the first invalid frame.
std::vector<framed> run(const std::vector<bytes>& chunks, bool* invalid = nullptr) {
  std::vector<framed> out;
  bytes pending;
  for (const bytes& c : chunks) {
    pending.insert(pending.end(), c.begin(), c.end());
    std::size_t off = 0;
    for (;;) {
      const frame f = next_frame(byte_span(pending).subspan(off));
      if (f.status == frame_status::invalid) {
        if (invalid) *invalid = true;
        return out;
      }
      if (f.status == frame_status::need_more) break;
      out.push_back({f.kind, bytes(pending.begin() + off, pending.begin() + off + f.message_size)});
      off += f.size;
    }
    pending.erase(pending.begin(), pending.begin() + off);
  }
  return out;
}

bytes client_stream(const std::string& name) {
  bytes all;
  for (const auto& r : test::load_capture(name)) {
    if (r.from_client) all.insert(all.end(), r.payload.begin(), r.payload.end());
  }
  return all;
}

class RecordedStream : public ::testing::TestWithParam<std::string> {};

TEST_P(RecordedStream, WholeStreamFramesCleanly) {
  const bytes stream = client_stream(GetParam());
  bool invalid = false;
  const auto frames = run({stream}, &invalid);
  EXPECT_FALSE(invalid);
  ASSERT_GT(frames.size(), 10u);
  std::size_t stun = 0, channel = 0, total = 0;
  for (const auto& f : frames) {
    if (f.kind == frame_kind::stun) {
      ++stun;
      EXPECT_TRUE(message_view::parse(f.message));
      total += f.message.size();
    } else {
      ++channel;
      total += pad4(f.message.size());
    }
  }
  EXPECT_GT(stun, 0u);
  EXPECT_GT(channel, 0u);
  EXPECT_EQ(total, stream.size());  // every byte belongs to exactly one frame
}

TEST_P(RecordedStream, SplitAtEveryOffsetGivesSameFrames) {
  const bytes stream = client_stream(GetParam());
  const auto expected = run({stream});
  for (std::size_t k = 0; k <= stream.size(); ++k) {
    const std::vector<bytes> chunks{bytes(stream.begin(), stream.begin() + k),
                                    bytes(stream.begin() + k, stream.end())};
    ASSERT_EQ(run(chunks), expected) << "split at " << k;
  }
}

TEST_P(RecordedStream, ByteByByteAndRandomChunksGiveSameFrames) {
  const bytes stream = client_stream(GetParam());
  const auto expected = run({stream});
  std::vector<bytes> single;
  for (std::uint8_t b : stream) single.push_back({b});
  EXPECT_EQ(run(single), expected);
  std::mt19937 rng(42);
  for (int round = 0; round < 50; ++round) {
    std::vector<bytes> chunks;
    for (std::size_t off = 0; off < stream.size();) {
      const std::size_t n = std::min<std::size_t>(stream.size() - off, 1 + rng() % 1500);
      chunks.emplace_back(stream.begin() + off, stream.begin() + off + n);
      off += n;
    }
    ASSERT_EQ(run(chunks), expected) << "round " << round;
  }
}

INSTANTIATE_TEST_SUITE_P(Chromium, RecordedStream,
                         ::testing::Values("chromium-turn-tcp-0", "chromium-turn-tcp-1"));

TEST(Framer, NeedMoreAndInvalid) {
  EXPECT_EQ(next_frame({}).status, frame_status::need_more);
  EXPECT_EQ(next_frame(from_hex("00")).status, frame_status::need_more);
  EXPECT_EQ(next_frame(from_hex("000100")).status, frame_status::need_more);
  EXPECT_EQ(next_frame(from_hex("00010000")).status, frame_status::need_more);
  EXPECT_EQ(next_frame(from_hex("000100002112a442")).status, frame_status::need_more);
  // Length not a multiple of four.
  EXPECT_EQ(next_frame(from_hex("00010002")).status, frame_status::invalid);
  // No magic cookie (an RFC 3489 message or garbage).
  EXPECT_EQ(next_frame(from_hex("0001000001020304")).status, frame_status::invalid);
  // First bits 0b10 and 0b11: neither STUN nor ChannelData (e.g. a TLS record is 0x16,
  // which is STUN-shaped, but HTTP "GET " starts with 0x47 = ChannelData-shaped: both are
  // told apart by the listener before framing).
  EXPECT_EQ(next_frame(from_hex("80000000")).status, frame_status::invalid);
  EXPECT_EQ(next_frame(from_hex("c0000000")).status, frame_status::invalid);
  // ChannelData: 5 bytes of data padded to 8.
  frame f = next_frame(from_hex("4001000568656c6c6f000000"));
  EXPECT_EQ(f.status, frame_status::complete);
  EXPECT_EQ(f.kind, frame_kind::channel_data);
  EXPECT_EQ(f.message_size, 9u);
  EXPECT_EQ(f.size, 12u);
  EXPECT_EQ(next_frame(from_hex("4001000568656c6c6f00")).status, frame_status::need_more);
  // Largest ChannelData fits the documented bound.
  f = next_frame(from_hex("4001ffff"));
  EXPECT_EQ(f.size, max_frame_size);
}

}  // namespace
}  // namespace turnpike::protocol
