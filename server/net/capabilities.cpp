// SPDX-License-Identifier: Apache-2.0
#include "server/net/capabilities.hpp"

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <memory>
#include <system_error>

namespace turnpike::server::net {

namespace {

std::size_t thread_count() {
  std::error_code ec;
  std::size_t n = 0;
  for (std::filesystem::directory_iterator it("/proc/self/task", ec), end; !ec && it != end;
       it.increment(ec)) {
    ++n;
  }
  return n;
}

// Sets or clears `caps` in the calling thread's `flag` set; false with errno on failure.
bool set_caps(cap_t state, cap_flag_t flag, const std::vector<cap_value_t>& caps,
              cap_flag_value_t v) {
  return cap_set_flag(state, flag, static_cast<int>(caps.size()), caps.data(), v) == 0 &&
         cap_set_proc(state) == 0;
}

}  // namespace

std::string drop_capabilities(const std::vector<cap_value_t>& caps, const std::string& names,
                              const std::function<bool()>& still_works) {
  if (const std::size_t threads = thread_count(); threads != 1) {
    return "kept " + names + ": " + std::to_string(threads) +
           " threads already run (capabilities are per thread)";
  }
  const std::unique_ptr<_cap_struct, int (*)(void*)> state(cap_get_proc(), cap_free);
  if (!state || !set_caps(state.get(), CAP_EFFECTIVE, caps, CAP_CLEAR)) {
    return "kept " + names + ": " + std::generic_category().message(errno);
  }
  if (!still_works()) {
    const int err = errno;
    set_caps(state.get(), CAP_EFFECTIVE, caps, CAP_SET);
    return "kept " + names + ": this kernel refuses map updates without them (" +
           std::generic_category().message(err) + ")";
  }
  if (!set_caps(state.get(), CAP_PERMITTED, caps, CAP_CLEAR) ||
      !set_caps(state.get(), CAP_INHERITABLE, caps, CAP_CLEAR)) {
    return "dropped " + names +
           " from the effective set only: " + std::generic_category().message(errno);
  }
  for (const cap_value_t c : caps) {
    cap_set_ambient(c, CAP_CLEAR);  // fails only where ambient capabilities do not exist
    cap_drop_bound(c);              // needs CAP_SETPCAP; without it the bound set stays
  }
  return names + " dropped";
}

}  // namespace turnpike::server::net
