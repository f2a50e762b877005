// SPDX-License-Identifier: Apache-2.0
// Dropping the capabilities that loading a BPF program (relay-mux, shard-packing) needed.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include <sys/capability.h>

namespace turnpike::server::net {

// Drops `caps` (named `names` in the result) from every set of the calling thread when it is
// the process's only thread (capabilities are per thread; threads started later inherit the
// drop). First out of the effective set only, to check with `still_works` (a map update) that
// the kernel lets the process go on without them (before Linux 5.19, with unprivileged BPF
// disabled, it does not): if not, they are put back and kept. Returns what was done, for the
// log.
std::string drop_capabilities(const std::vector<cap_value_t>& caps, const std::string& names,
                              const std::function<bool()>& still_works);

}  // namespace turnpike::server::net
