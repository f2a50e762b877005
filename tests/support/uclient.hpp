// SPDX-License-Identifier: Apache-2.0
// Test helper: runs coturn's turnutils_uclient and reads its totals.
#pragma once

#include <chrono>
#include <regex>
#include <string>
#include <vector>

#include "support/process.hpp"

namespace turnpike::test {

struct uclient_result {
  long sent = -1;  // the last "tot_send_msgs" / "tot_recv_msgs" line; -1 when none
  long received = -1;
  bool zero_loss = false;
  std::string output;
};

// `argv` without the program name; waits up to a minute for it to finish.
inline uclient_result run_uclient(const std::vector<std::string>& args) {
  std::vector<std::string> argv{"turnutils_uclient"};
  argv.insert(argv.end(), args.begin(), args.end());
  process c(argv);
  c.wait_exit(std::chrono::seconds(60));
  uclient_result r;
  r.output = c.output();
  const std::regex totals(R"(start_mclient: tot_send_msgs=(\d+), tot_recv_msgs=(\d+))");
  for (auto it = std::sregex_iterator(r.output.begin(), r.output.end(), totals);
       it != std::sregex_iterator(); ++it) {
    r.sent = std::stol((*it)[1]);
    r.received = std::stol((*it)[2]);
  }
  r.zero_loss = r.output.find("Total lost packets 0 (0.000000%)") != std::string::npos;
  return r;
}

}  // namespace turnpike::test
