// SPDX-License-Identifier: Apache-2.0
// Test helper: runs the pion/turn client (tests/interop/pion/relay_echo.go, built with
// Debian's Go and pion packages) and reads its totals.
#pragma once

#include <chrono>
#include <filesystem>
#include <optional>
#include <regex>
#include <string>
#include <vector>

#include "support/process.hpp"

namespace turnpike::test {

inline const std::string pion_client = TURNPIKE_PION_CLIENT;

// Empty when the pion client was built; else what is missing.
inline std::string pion_missing() {
  if (std::filesystem::exists(pion_client)) return "";
  return "the pion client was not built: golang-go and golang-github-pion-turn.v2-dev are "
         "needed (deploy/bootstrap.sh test installs them), then a fresh cmake";
}

struct pion_result {
  std::optional<int> exit;
  long sent = -1;  // from its JSON line; -1 when none
  long received = -1;
  std::string output;
};

// Allocates on `server` (host:port) as u:p and echoes `count` messages of `size` bytes
// through a peer on `peer_ip`, one at a time; `prefix` runs it (nsenter, say).
inline pion_result run_pion(const std::string& server, int count, int size,
                            const std::string& peer_ip = "127.0.0.1",
                            std::vector<std::string> prefix = {}) {
  std::vector<std::string> argv = std::move(prefix);
  for (const std::string& a :
       {pion_client, std::string("-server"), server, std::string("-peer"), peer_ip,
        std::string("-count"), std::to_string(count), std::string("-size"), std::to_string(size)}) {
    argv.push_back(a);
  }
  process p(argv);
  pion_result r;
  r.exit = p.wait_exit(std::chrono::seconds(90));
  r.output = p.output();
  std::smatch m;
  if (std::regex_search(r.output, m, std::regex(R"("received":(\d+).*"sent":(\d+))"))) {
    r.received = std::stol(m[1]);
    r.sent = std::stol(m[2]);
  }
  return r;
}

}  // namespace turnpike::test
