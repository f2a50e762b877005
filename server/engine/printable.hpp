// SPDX-License-Identifier: Apache-2.0
// Text from the network (user names, realms) made safe for a log line: printable ASCII kept,
// everything else (control characters, CR/LF, bytes of any non-ASCII encoding) written as
// \xNN, and at most `limit` bytes shown. A client cannot start a line of its own in our logs.
#pragma once

#include <cstdio>
#include <string>
#include <string_view>

namespace turnpike::server::engine {

inline std::string printable(std::string_view s, std::size_t limit = 128) {
  std::string out;
  out.reserve(std::min(s.size(), limit) + 8);
  for (std::size_t i = 0; i < s.size() && i < limit; ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c < 0x7F && c != '\\') {
      out.push_back(static_cast<char>(c));
    } else {
      char buf[5];
      (void)std::snprintf(buf, sizeof buf, "\\x%02x", c);
      out += buf;
    }
  }
  if (s.size() > limit) out += "...";
  return out;
}

}  // namespace turnpike::server::engine
