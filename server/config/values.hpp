// SPDX-License-Identifier: Apache-2.0
// Reading one setting's value (the option table's apply functions use these). Each throws
// config_error naming the setting's file and line and what is wrong.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>

#include "protocol/ip_range.hpp"
#include "protocol/types.hpp"
#include "server/config/config.hpp"

namespace turnpike::server::config {

[[noreturn]] void fail(const setting& s, const std::string& reason);
const std::string& need_value(const setting& s);
unsigned long parse_uint(const setting& s, unsigned long min, unsigned long max);
std::uint16_t parse_port(const setting& s, bool allow_zero);
// Bare, or yes/no, true/false, on/off, 1/0.
bool parse_flag(const setting& s);
protocol::transport_address parse_ip(const setting& s);
// "ip", "ip:port", "[v6]:port" or "v6" (`default_port` when absent).
protocol::transport_address parse_ip_port(const setting& s, std::uint16_t default_port = 3478);
protocol::ip_range parse_range(const setting& s);
// coturn: "public" or "public/private".
std::pair<protocol::transport_address, std::optional<protocol::transport_address>>
parse_external_ip(const setting& s);
// name:password or name:0xKEY.
user_entry parse_user(const setting& s);
log_level parse_level(const setting& s);
void check_facility(const setting& s);
// A Bearer key: long enough not to be guessed, and sendable in a header.
std::string parse_api_key(const setting& s, const std::string& guards);

}  // namespace turnpike::server::config
