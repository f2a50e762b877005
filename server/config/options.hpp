// SPDX-License-Identifier: Apache-2.0
// The table of every option name Turnpike understands: every option any coturn release from
// 4.0 to 4.17 accepted (same names, short letters and arity) plus Turnpike's own. Options
// coturn has and Turnpike does not implement, or that coturn dropped, are known here so that
// they are warned about, never silently ignored.
#pragma once

#include <iosfwd>
#include <span>
#include <string_view>

namespace turnpike::server::config {

struct server_config;
struct setting;

enum class option_kind {
  flag,            // bare; in a file "name" or "name=true|false|yes|no|on|off|1|0"
  value,           // exactly one value; the last one given wins
  list,            // repeatable; each occurrence adds a value
  optional_value,  // bare or with a value (coturn's stale-nonce)
};

enum class option_status {
  supported,
  not_yet,           // a coturn option Turnpike does not implement (yet): warned, ignored
  turnpike_default,  // what it asks for is what Turnpike always does: warned, ignored
  removed,           // coturn itself dropped it: warned, ignored
};

// One option, spelt once (option_table.cpp): its name, arity and status, what it does to the
// configuration, and how the effective configuration shows it. A unit test walks every entry
// (options_test.cpp): a supported one applies and is shown (by itself, or by the entry that
// `shown_with` names: another name for the same setting); any other does neither.
struct option_spec {
  std::string_view name;
  char short_name;  // '\0' for none
  option_kind kind;
  option_status status;
  // Supported: the --help text. Otherwise what the operator should know (may be empty).
  std::string_view help;
  // Supported: takes one occurrence into the configuration (throws config_error).
  void (*apply)(server_config&, const setting&) = nullptr;
  // Supported: its lines in describe() (none when at its default and that goes unsaid).
  void (*show)(const server_config&, std::ostream&) = nullptr;
  std::string_view shown_with;  // supported without `show`: the entry that shows it
};

std::span<const option_spec> option_table() noexcept;
const option_spec* find_option(std::string_view name) noexcept;
// The known name nearest to a misspelt one (edit distance, case-insensitive), if any is close
// enough to be a likely typo; empty otherwise.
std::string_view nearest_option(std::string_view name);

}  // namespace turnpike::server::config
