// SPDX-License-Identifier: Apache-2.0
// turnserver.conf.example stays true: it names every option Turnpike knows, and each example
// line, uncommented, is accepted on its own.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "server/config/config.hpp"
#include "server/config/options.hpp"

namespace turnpike::server::config {
namespace {

std::string example_text() {
  std::ifstream in(TURNPIKE_SOURCE_DIR "/turnserver.conf.example");
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

TEST(Example, DocumentsEveryOption) {
  const std::string text = example_text();
  ASSERT_FALSE(text.empty());
  for (const option_spec& o : option_table()) {
    const std::string name(o.name);
    const bool as_line = text.find("\n#" + name + "\n") != std::string::npos ||
                         text.find("\n#" + name + "=") != std::string::npos;
    const bool in_list = text.find(" " + name + " ") != std::string::npos ||
                         text.find("# " + name + " ") != std::string::npos ||
                         text.find(" " + name + "\n") != std::string::npos;
    if (o.status == option_status::supported) {
      EXPECT_TRUE(as_line || name == "prod") << name << " has no example line";
    } else {
      EXPECT_TRUE(in_list) << name << " missing from the not-supported-yet list";
    }
  }
}

TEST(Example, EachExampleLineIsAccepted) {
  std::istringstream in(example_text());
  std::string line;
  int checked = 0;
  while (std::getline(in, line)) {
    if (line.size() < 2 || line[0] != '#' || line[1] == ' ' || line[1] == '#') continue;
    std::string body = line.substr(1);
    if (body == "use-auth-secret") body += "\nstatic-auth-secret=s";  // needs one
    if (body.starts_with("admin-api-key")) body += "\nprometheus";
    if (body.starts_with("proc-group")) body += "\nproc-user=turnserver";
    if (body.starts_with("signaling-api-key")) {
      body += "\nsignaling-port=0\nuse-auth-secret\nstatic-auth-secret=s";
    }
    const std::string name = body.substr(0, body.find_first_of("= "));
    if (find_option(name) == nullptr) continue;
    EXPECT_NO_THROW(build_config(parse_config_text(body, "example"), {})) << body;
    ++checked;
  }
  EXPECT_GT(checked, 30);
}

}  // namespace
}  // namespace turnpike::server::config
