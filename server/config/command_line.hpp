// SPDX-License-Identifier: Apache-2.0
// The command line, parsed with CLI11 from the same option table as turnserver.conf, so every
// file option is also a --long (and, where coturn has one, -x short) option.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "server/config/config.hpp"

namespace turnpike::server::config {

struct command_line {
  std::vector<setting> settings;
  std::optional<std::string> config_path;  // -c FILE
  bool no_config_file = false;             // -n
  bool check_config = false;               // --check-config
  bool version = false;                    // --version
  std::optional<int> exit_code;            // set when --help or a parse error already printed
};

command_line parse_command_line(int argc, const char* const* argv);

// Everything together: command line, then the file it names (or the search, or the embedded
// default), merged and validated. Throws config_error.
loaded_config load_config(const command_line& cl);

}  // namespace turnpike::server::config
