// SPDX-License-Identifier: Apache-2.0
// Host names where coturn takes them (listening-ip, relay-ip, external-ip, alternate servers,
// the Redis host) are resolved once, at start-up, as coturn does: the first IPv4 address the
// resolver answers, else the first IPv6 one. The resolver is a parameter so that tests can
// name hosts without a DNS server.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "protocol/types.hpp"

namespace turnpike::server::config {

// Every address `host` resolves to, in the resolver's order; empty with `error` set if none.
using host_resolver = std::function<std::vector<protocol::transport_address>(
    const std::string& host, std::string& error)>;

// getaddrinfo(3) (files, then DNS, as /etc/nsswitch.conf says); "localhost" and names under
// it are 127.0.0.1 and ::1 without a query (RFC 6761).
std::vector<protocol::transport_address> system_resolver(const std::string& host,
                                                         std::string& error);

// True for text that can be a DNS name or /etc/hosts entry (letters, digits, '-', '_', '.',
// at least one letter), and is not an IP address literal.
bool is_host_name(std::string_view text);

// coturn's choice among the answers: the first IPv4 address, else the first IPv6 one.
std::optional<protocol::transport_address> first_address(
    const std::vector<protocol::transport_address>& answers);

struct setting;

// `host` itself when it is not a host name; else the address it resolves to (first_address),
// with the resolution noted in `notes`. A name that does not resolve throws config_error
// naming setting `s`.
std::string resolve_host(const setting& s, const std::string& host, const host_resolver& resolve,
                         std::vector<std::string>& notes);

// `s` with host names in its value replaced by addresses, for the options where coturn takes
// names: listening-ip, relay-ip, external-ip (public/private), the *alternate-server ones
// (host[:port]). Other values stay as they are, for the option's handler to judge.
setting resolve_host_names(const setting& s, const host_resolver& resolve,
                           std::vector<std::string>& notes);

}  // namespace turnpike::server::config
