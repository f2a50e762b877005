// SPDX-License-Identifier: Apache-2.0
// The outcome of authenticating one request (engine internals, shared by turn.cpp and
// auth_check.cpp): which key signed it and how, so the answer is signed the same way.
#pragma once

#include <string_view>

#include "protocol/bytes.hpp"
#include "server/engine/engine.hpp"

namespace turnpike::server::engine {

struct engine::request_auth {
  bool authenticated = false;  // false under no-auth: answers carry no MESSAGE-INTEGRITY
  auth::credential key;
  bool key_is_sha256 = false;  // PASSWORD-ALGORITHM SHA-256
  bool mi256 = false;          // the request used MESSAGE-INTEGRITY-SHA256
  std::string_view username;   // a view into the request

  protocol::byte_span key_bytes() const noexcept {
    if (key_is_sha256 && key.sha256) return *key.sha256;
    return key.md5;
  }
};

}  // namespace turnpike::server::engine
