// SPDX-License-Identifier: Apache-2.0
// Test helper: a self-signed certificate for 127.0.0.1 made at test time with the openssl
// command (EC P-256), in a fresh temporary directory.
#pragma once

#include <filesystem>
#include <stdexcept>
#include <string>

#include "support/process.hpp"

namespace turnpike::test {

struct test_certificate {
  std::string cert;
  std::string key;
};

inline test_certificate make_test_certificate() {
  char dir[] = "/tmp/turnpike-cert-XXXXXX";
  if (mkdtemp(dir) == nullptr) throw std::runtime_error("mkdtemp");
  test_certificate c{std::string(dir) + "/cert.pem", std::string(dir) + "/key.pem"};
  process p({"openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
             "-nodes", "-keyout", c.key, "-out", c.cert, "-days", "1", "-subj", "/CN=127.0.0.1",
             "-addext", "subjectAltName=IP:127.0.0.1"});
  if (p.wait_exit(std::chrono::seconds(30)) != 0 || !std::filesystem::exists(c.cert)) {
    throw std::runtime_error("openssl could not make a test certificate: " + p.output());
  }
  return c;
}

}  // namespace turnpike::test
