// SPDX-License-Identifier: Apache-2.0
// The table of every option name Turnpike understands: coturn's turnserver options (same
// names, short letters and arity) plus Turnpike's own. Options coturn has and Turnpike does
// not implement yet are known here so that they are warned about, never silently ignored.
#pragma once

#include <span>
#include <string_view>

namespace turnpike::server::config {

enum class option_kind {
  flag,            // bare; in a file "name" or "name=true|false|yes|no|on|off|1|0"
  value,           // exactly one value; the last one given wins
  list,            // repeatable; each occurrence adds a value
  optional_value,  // bare or with a value (coturn's stale-nonce)
};

enum class option_status {
  supported,
  not_yet,  // a coturn option Turnpike does not implement yet: accepted with a warning
};

struct option_spec {
  std::string_view name;
  char short_name;  // '\0' for none
  option_kind kind;
  option_status status;
  std::string_view help;
};

std::span<const option_spec> option_table() noexcept;
const option_spec* find_option(std::string_view name) noexcept;

}  // namespace turnpike::server::config
