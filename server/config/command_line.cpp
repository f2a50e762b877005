// SPDX-License-Identifier: Apache-2.0
// Command line (CLI11) and the overall load order: command line, then -c FILE / the search /
// the embedded default, merged with the command line winning.
#include "server/config/command_line.hpp"

#include <openssl/rand.h>

#include <CLI/CLI.hpp>
#include <filesystem>
#include <map>

#include "server/config/options.hpp"

namespace turnpike::server::config {
namespace {

std::string random_password(std::size_t length = 12) {
  static constexpr std::string_view alphabet =
      "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789";
  std::vector<unsigned char> raw(length);
  if (RAND_bytes(raw.data(), static_cast<int>(raw.size())) != 1) {
    throw config_error("no randomness for the demo password");
  }
  std::string p;
  for (unsigned char b : raw) p += alphabet[b % alphabet.size()];
  return p;
}

}  // namespace

command_line parse_command_line(int argc, const char* const* argv) {
  command_line out;
  CLI::App app{
      "Turnpike STUN/TURN server. Options are coturn's turnserver options; see "
      "turnserver.conf.example for each."};
  app.set_help_flag("-h,--help", "print this help and exit");
  std::string config_path;
  app.add_option("-c", config_path, "configuration file (default: search, then built-in demo)");
  app.add_flag("-n", out.no_config_file, "use no configuration file, only the command line");
  app.add_flag("--check-config", out.check_config,
               "report every problem of the configuration, print the effective one, and exit "
               "(non-zero when start-up would stop)");
  app.add_flag("--version", out.version, "print the version and exit");

  std::vector<std::pair<const option_spec*, CLI::Option*>> registered;
  for (const option_spec& spec : option_table()) {
    if (spec.name == "version") continue;  // --version above: prints it and exits
    std::string names;
    if (spec.short_name != '\0') names = std::string("-") + spec.short_name + ",";
    names += "--" + std::string(spec.name);
    // Descriptions are set separately: CLI11 takes a string lvalue after the name as the
    // variable to store into.
    std::string help(spec.help);
    switch (spec.status) {
      case option_status::supported:
        break;
      case option_status::not_yet:
        help = help.empty() ? std::string("(coturn option, not supported)")
                            : std::string("(coturn option, not supported; ").append(help) + ")";
        break;
      case option_status::turnpike_default:
        help = std::string("(coturn option; always so: ").append(help) + ")";
        break;
      case option_status::removed:
        help = std::string("(dropped coturn option: ").append(help) + ")";
        break;
    }
    CLI::Option* opt = nullptr;
    switch (spec.kind) {
      case option_kind::flag:
        opt = app.add_flag(names);
        break;
      case option_kind::value:
        opt = app.add_option(names)->expected(1)->multi_option_policy(
            CLI::MultiOptionPolicy::TakeLast);
        break;
      case option_kind::list:
        opt = app.add_option(names)->expected(1)->multi_option_policy(
            CLI::MultiOptionPolicy::TakeAll);
        break;
      case option_kind::optional_value:
        opt = app.add_option(names)->expected(0, 1);
        break;
    }
    opt->description(help);
    registered.emplace_back(&spec, opt);
  }

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    out.exit_code = app.exit(e);
    return out;
  }
  if (!config_path.empty()) out.config_path = config_path;

  for (const auto& [spec, opt] : registered) {
    if (opt->count() == 0) continue;
    const std::vector<std::string>& results = opt->results();
    switch (spec->kind) {
      case option_kind::flag:
      case option_kind::optional_value: {
        std::optional<std::string> v;
        if (!results.empty() && !results.back().empty()) v = results.back();
        out.settings.push_back({std::string(spec->name), v, "", 0});
        break;
      }
      case option_kind::value:
        out.settings.push_back({std::string(spec->name), results.back(), "", 0});
        break;
      case option_kind::list:
        for (const std::string& r : results) {
          out.settings.push_back({std::string(spec->name), r, "", 0});
        }
        break;
    }
  }
  return out;
}

loaded_config load_config(const command_line& cl) {
  std::vector<setting> file_settings;
  std::string source;
  bool embedded = false;
  std::string demo_password;
  if (cl.no_config_file) {
    source = "command line only (-n)";
  } else if (cl.config_path) {
    file_settings = read_config_file(*cl.config_path);
    source = *cl.config_path;
  } else {
    for (const std::string& p : default_config_paths()) {
      std::error_code ec;
      if (std::filesystem::is_regular_file(p, ec)) {
        file_settings = read_config_file(p);
        source = p;
        break;
      }
    }
    if (source.empty()) {
      demo_password = random_password();
      file_settings = parse_config_text(
          embedded_default_text(demo_password, random_password(24), random_password(24)),
          "<embedded default>");
      source = "<embedded default>";
      embedded = true;
    }
  }
  loaded_config out = build_config(file_settings, cl.settings);
  out.source = source;
  out.embedded_default = embedded;
  out.demo_password = demo_password;
  return out;
}

}  // namespace turnpike::server::config
