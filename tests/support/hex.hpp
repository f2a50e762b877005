// SPDX-License-Identifier: Apache-2.0
// Test helpers: hex strings to bytes and back, and the recorded captures under tests/data.
#pragma once

#include <cstdint>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace turnpike::test {

using bytes = std::vector<std::uint8_t>;

inline bytes from_hex(std::string_view hex) {
  bytes out;
  int hi = -1;
  for (char c : hex) {
    int v;
    if (c >= '0' && c <= '9')
      v = c - '0';
    else if (c >= 'a' && c <= 'f')
      v = c - 'a' + 10;
    else if (c >= 'A' && c <= 'F')
      v = c - 'A' + 10;
    else
      continue;  // spaces, newlines and separators are ignored
    if (hi < 0) {
      hi = v;
    } else {
      out.push_back(static_cast<std::uint8_t>(hi * 16 + v));
      hi = -1;
    }
  }
  if (hi >= 0) throw std::invalid_argument("odd number of hex digits");
  return out;
}

inline std::string to_hex(const std::uint8_t* p, std::size_t n) {
  static const char* digits = "0123456789abcdef";
  std::string s;
  for (std::size_t i = 0; i < n; ++i) {
    s += digits[p[i] >> 4];
    s += digits[p[i] & 15];
  }
  return s;
}
template <class Span>
std::string to_hex(const Span& s) {
  return to_hex(s.data(), s.size());
}

inline bytes as_bytes(std::string_view s) {
  return bytes(s.begin(), s.end());
}

// One recorded packet (UDP) or segment (TCP): "c2s" client to server, "s2c" the other way.
struct recorded {
  bool from_client = false;
  bytes payload;
};

// Reads tests/data/captures/NAME.txt, made with tshark from shared/captures (see README there).
inline std::vector<recorded> load_capture(const std::string& name) {
  std::ifstream in(std::string(TURNPIKE_TEST_DATA_DIR) + "/captures/" + name + ".txt");
  if (!in) throw std::runtime_error("missing capture " + name);
  std::vector<recorded> out;
  std::string dir, hex;
  while (in >> dir >> hex) out.push_back({dir == "c2s", from_hex(hex)});
  return out;
}

}  // namespace turnpike::test
