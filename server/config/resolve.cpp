// SPDX-License-Identifier: Apache-2.0
#include "server/config/resolve.hpp"

#include "server/config/config.hpp"

#include <netdb.h>
#include <sys/socket.h>

#include <algorithm>
#include <memory>

namespace turnpike::server::config {

std::vector<protocol::transport_address> system_resolver(const std::string& host,
                                                         std::string& error) {
  // RFC 6761 section 6.3: "localhost" is loopback without asking anyone (a container or chroot
  // may have no /etc/hosts, and DNS must not be asked).
  if (host == "localhost" || host.ends_with(".localhost")) {
    return {*protocol::transport_address::parse_ip("127.0.0.1"),
            *protocol::transport_address::parse_ip("::1")};
  }
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_DGRAM;
  addrinfo* raw = nullptr;
  const int rc = ::getaddrinfo(host.c_str(), nullptr, &hints, &raw);
  if (rc != 0) {
    error = ::gai_strerror(rc);
    return {};
  }
  const std::unique_ptr<addrinfo, decltype(&::freeaddrinfo)> list(raw, &::freeaddrinfo);
  std::vector<protocol::transport_address> out;
  for (const addrinfo* a = list.get(); a != nullptr; a = a->ai_next) {
    char text[NI_MAXHOST];
    if (::getnameinfo(a->ai_addr, a->ai_addrlen, text, sizeof text, nullptr, 0, NI_NUMERICHOST) !=
        0) {
      continue;
    }
    auto t = protocol::transport_address::parse_ip(text);
    if (t && std::find(out.begin(), out.end(), *t) == out.end()) out.push_back(*t);
  }
  if (out.empty()) error = "no IPv4 or IPv6 address";
  return out;
}

bool is_host_name(std::string_view text) {
  if (text.empty() || text.size() > 253) return false;
  if (protocol::transport_address::parse_ip(text)) return false;
  for (const char c : text) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '-' || c == '_' || c == '.';
    if (!ok) return false;
  }
  // "10.0.0.300" is a mistyped address, not a name to look up in DNS.
  const bool letter = std::any_of(text.begin(), text.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
  });
  return letter && text.front() != '.' && text.front() != '-';
}

std::optional<protocol::transport_address> first_address(
    const std::vector<protocol::transport_address>& answers) {
  for (const auto& a : answers) {
    if (a.family == protocol::address_family::ipv4) return a;
  }
  if (!answers.empty()) return answers.front();
  return std::nullopt;
}

std::string resolve_host(const setting& s, const std::string& host, const host_resolver& resolve,
                         std::vector<std::string>& notes) {
  if (!is_host_name(host)) return host;
  std::string error;
  const auto answers = resolve(host, error);
  const auto chosen = first_address(answers);
  if (!chosen) {
    throw config_error(s.where() + "'" + host +
                       "' is neither an address nor a host name that resolves (" + error + ")");
  }
  std::string all;
  for (const auto& a : answers) all += (all.empty() ? "" : ", ") + a.ip_string();
  notes.push_back(s.where() + "'" + host + "' resolved to " + all + "; using " +
                  chosen->ip_string());
  return chosen->ip_string();
}

setting resolve_host_names(const setting& s, const host_resolver& resolve,
                           std::vector<std::string>& notes) {
  auto address_of = [&](const std::string& host) { return resolve_host(s, host, resolve, notes); };
  if (!s.value) return s;
  setting out = s;
  const std::string& v = *s.value;
  if (s.name == "listening-ip" || s.name == "relay-ip") {
    out.value = address_of(v);
  } else if (s.name == "external-ip") {
    const auto slash = v.find('/');
    out.value = address_of(v.substr(0, slash));
    if (slash != std::string::npos) *out.value += "/" + address_of(v.substr(slash + 1));
  } else if (s.name.ends_with("alternate-server")) {
    // host, or host:port (not a bracketed or bare IPv6 address)
    const auto colon = v.find(':');
    if (!v.starts_with('[') && colon == v.rfind(':')) {
      out.value = address_of(v.substr(0, colon));
      if (colon != std::string::npos) *out.value += v.substr(colon);
    }
  }
  return out;
}

}  // namespace turnpike::server::config
