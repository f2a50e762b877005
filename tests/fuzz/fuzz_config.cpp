// SPDX-License-Identifier: Apache-2.0
// libFuzzer target: turnserver.conf text through the line parser and the option validator.
// A bad file must end in config_error (which names file, line and reason), never in another
// exception, a crash or a hang; a good one yields a configuration. Nothing is read from disk,
// and host names never reach DNS: "localhost" and names ending in ".test" resolve, others
// do not.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "server/config/config.hpp"

namespace cfg = turnpike::server::config;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  try {
    const auto settings = cfg::parse_config_text(text, "fuzz.conf");
    (void)cfg::build_config(
        settings, {},
        [](const std::string& host,
           std::string& error) -> std::vector<turnpike::protocol::transport_address> {
          if (host == "localhost" || host.ends_with(".test")) {
            return {*turnpike::protocol::transport_address::parse_ip("127.0.0.1")};
          }
          error = "not resolved";
          return {};
        });
  } catch (const cfg::config_error& e) {
    if (std::string_view(e.what()).empty()) std::abort();  // every refusal gives a reason
  }
  return 0;
}
