// SPDX-License-Identifier: Apache-2.0
// Process logging on spdlog: levels, plain or JSON lines, to stdout, a file and/or syslog.
// Call init() once at start-up; afterwards use spdlog's free functions (spdlog::info, ...).
#pragma once

#include "server/config/config.hpp"

namespace turnpike::server::log {

// Replaces the default logger according to `cfg`. Throws config_error when the log file
// cannot be opened.
void init(const config::server_config& cfg);

// Flushes and drops all loggers (end of main).
void shutdown();

}  // namespace turnpike::server::log
