// SPDX-License-Identifier: Apache-2.0
// Real client traffic (Chromium, pion, turnutils_uclient against a reference server): every
// datagram parses, every FINGERPRINT and MESSAGE-INTEGRITY checks with MD5("u:test:p").
#include <gtest/gtest.h>

#include <algorithm>

#include "protocol/channel_data.hpp"
#include "protocol/integrity.hpp"
#include "protocol/long_term_key.hpp"
#include "protocol/message.hpp"
#include "support/hex.hpp"

namespace turnpike::protocol {
namespace {

class Capture : public ::testing::TestWithParam<std::string> {};

TEST_P(Capture, EveryDatagramParsesAndVerifies) {
  const auto key = long_term_key_md5("u", "test", "p");
  std::size_t stun = 0, channel = 0, integrity = 0, fingerprints = 0;
  for (const auto& r : test::load_capture(GetParam())) {
    if (message_view::looks_like_stun(r.payload)) {
      auto m = message_view::parse(r.payload);
      ASSERT_TRUE(m) << test::to_hex(r.payload);
      ++stun;
      if (m->fingerprint()) {
        ++fingerprints;
        EXPECT_TRUE(check_fingerprint(*m)) << test::to_hex(r.payload);
      }
      if (m->message_integrity()) {
        ++integrity;
        EXPECT_TRUE(check_message_integrity(*m, key)) << test::to_hex(r.payload);
      }
    } else {
      auto cd = parse_channel_data(r.payload);
      ASSERT_TRUE(cd) << test::to_hex(r.payload);
      EXPECT_GE(cd->channel, channel_min);
      ++channel;
    }
  }
  EXPECT_GT(stun, 0u);
  EXPECT_GT(integrity, 0u);
  RecordProperty("stun", static_cast<int>(stun));
  RecordProperty("channel_data", static_cast<int>(channel));
  RecordProperty("fingerprints", static_cast<int>(fingerprints));
}

INSTANTIATE_TEST_SUITE_P(Udp, Capture,
                         ::testing::Values("chromium-turn-udp", "pion-turn-udp",
                                           "uclient-turn-udp"),
                         [](const auto& param_info) {
                           std::string n = param_info.param;
                           std::replace(n.begin(), n.end(), '-', '_');
                           return n;
                         });

}  // namespace
}  // namespace turnpike::protocol
