// SPDX-License-Identifier: Apache-2.0
// mDNS/DNS-SD announcement of the STUN/TURN service (and the signaling service) on the local
// network through the Avahi daemon (`mdns` option): _stun._udp, _turn._udp, _stun._tcp,
// _turn._tcp, _stuns._tcp and _turns._tcp (the SRV service names of RFC 7064 and RFC 7065) for
// each listening port, and _http._tcp / _https._tcp with "path=/" for the signaling service.
// Avahi's own thread does the work; a missing daemon is waited for, a name collision picks
// the next free name, and neither stops the server.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace turnpike::server::mdns {

struct service {
  std::string type;  // "_turn._udp"
  std::uint16_t port = 0;
  std::vector<std::string> txt;  // "key=value"
};

class announcer {
 public:
  // Starts announcing `services` under `name` (an instance name, UTF-8, at most 63 bytes).
  announcer(std::string name, std::vector<service> services);
  ~announcer();
  announcer(const announcer&) = delete;
  announcer& operator=(const announcer&) = delete;

  struct state;

 private:
  std::unique_ptr<state> state_;
};

}  // namespace turnpike::server::mdns
