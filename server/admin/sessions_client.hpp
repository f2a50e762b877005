// SPDX-License-Identifier: Apache-2.0
// turnpike-admin's side of the sessions API (server/metrics/sessions_api.hpp): one HTTP
// request to a running server's metrics listener, and its answer shown to an operator.
#pragma once

#include <optional>
#include <ostream>
#include <string>

namespace turnpike::admin {

struct sessions_request {
  std::string api;  // http://host:port of the metrics listener
  std::string key;  // admin-api-key
  std::optional<std::string> user;
  std::optional<std::string> client_ip;
  std::optional<std::string> id;  // kill: one session
  bool json = false;              // sessions: the server's JSON as it came
};

// GET /sessions: a table (or the JSON) on `out`. Returns the exit code; errors on `err`.
int list_sessions(const sessions_request& r, std::ostream& out, std::ostream& err);
// DELETE /sessions/<id> or /sessions?user=..&client_ip=..: how many ended, on `out`.
int kill_sessions(const sessions_request& r, std::ostream& out, std::ostream& err);

}  // namespace turnpike::admin
