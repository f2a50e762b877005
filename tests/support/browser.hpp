// SPDX-License-Identifier: Apache-2.0
// Test helper: where the browser scripts live, and whether headless Chromium can run them.
#pragma once

#include <filesystem>
#include <string>

namespace turnpike::test {

inline const std::string browser_dir = TURNPIKE_SOURCE_DIR "/tests/interop/browser";

// Empty when Debian's chromium and playwright-core are installed; else what is missing.
inline std::string browser_missing() {
  if (!std::filesystem::exists("/usr/bin/chromium")) {
    return "Debian's chromium is not installed (deploy/bootstrap.sh test installs it)";
  }
  if (!std::filesystem::exists(browser_dir + "/node_modules/playwright-core")) {
    return "run npm ci in " + browser_dir + " (deploy/bootstrap.sh test does)";
  }
  return "";
}

}  // namespace turnpike::test
