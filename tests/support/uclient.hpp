// SPDX-License-Identifier: Apache-2.0
// Test helper: runs coturn's turnutils_uclient and reads its totals.
//
// Relaying to a peer (-e/-r) over channels, uclient 4.6.1 binds two channel numbers on each
// RTP allocation, one to the peer's port + 1 and then one to the peer, each drawn at random
// from 0x4000-0x7FFF. In 1 run of 16 384 per such allocation they are equal, and RFC 8656
// section 11.2 has the server refuse the second bind with 400 ("channel bind: error 400"),
// as coturn does. Client to client (-y) each allocation binds one channel, so a test whose
// subject is not the plain peer relays client to client.
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
