// SPDX-License-Identifier: Apache-2.0
// Test helper: one HTTP/1.1 GET on loopback over a plain socket; status code and body.
#pragma once

#include <string>

#include "support/stun_client.hpp"

namespace turnpike::test {

struct http_answer {
  int status = 0;  // 0: no answer
  std::string body;
};

inline http_answer http_get(std::uint16_t port, const std::string& path) {
  http_answer a;
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  socklen_t len = 0;
  const auto ss = to_sockaddr(*protocol::transport_address::parse_ip("127.0.0.1", port), len);
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&ss), len) != 0) {
    ::close(fd);
    return a;
  }
  const std::string req =
      "GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
  if (::send(fd, req.data(), req.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(req.size())) {
    ::close(fd);
    return a;
  }
  std::string raw;
  char buf[65536];
  for (;;) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 5000) <= 0) break;
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    raw.append(buf, static_cast<std::size_t>(n));
  }
  ::close(fd);
  if (raw.rfind("HTTP/1.1 ", 0) != 0 || raw.size() < 12) return a;
  a.status = std::stoi(raw.substr(9, 3));
  const auto body = raw.find("\r\n\r\n");
  if (body != std::string::npos) a.body = raw.substr(body + 4);
  return a;
}

// The value of the exposition line `series` (name with labels, exactly as written), or -1.
inline double metric_value(const std::string& exposition, const std::string& series) {
  std::size_t at = 0;
  while ((at = exposition.find(series + " ", at)) != std::string::npos) {
    if (at == 0 || exposition[at - 1] == '\n') {
      return std::stod(exposition.substr(at + series.size() + 1));
    }
    at += series.size();
  }
  return -1;
}

}  // namespace turnpike::test
