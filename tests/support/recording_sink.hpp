// SPDX-License-Identifier: Apache-2.0
// Test helper: a client_sink that keeps everything the engine sends, for engine unit tests.
#pragma once

#include <vector>

#include "server/engine/types.hpp"
#include "support/hex.hpp"

namespace turnpike::test {

struct sent {
  server::engine::five_tuple path;
  bytes data;
};

class recording_sink final : public server::engine::client_sink {
 public:
  void send_to_client(const server::engine::five_tuple& path, protocol::byte_span b) override {
    out.push_back({path, bytes(b.begin(), b.end())});
  }
  std::vector<sent> out;
};

}  // namespace turnpike::test
