// SPDX-License-Identifier: Apache-2.0
#include "server/process/privileges.hpp"

#include <grp.h>
#include <pwd.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <optional>
#include <system_error>

#include "server/config/config.hpp"

namespace turnpike::server::process {
namespace {

std::optional<unsigned> number(const std::string& s) {
  unsigned n = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
  if (ec != std::errc{} || end != s.data() + s.size()) return std::nullopt;
  return n;
}

[[noreturn]] void fail(const std::string& what) {
  throw config::config_error(what + ": " + std::generic_category().message(errno));
}

}  // namespace

void drop_privileges(const std::string& user, const std::string& group) {
  const passwd* pw = nullptr;
  if (const auto uid = number(user)) {
    // NOLINTNEXTLINE(concurrency-mt-unsafe): no other thread reads the user database
    pw = ::getpwuid(*uid);
  } else {
    // NOLINTNEXTLINE(concurrency-mt-unsafe): no other thread reads the user database
    pw = ::getpwnam(user.c_str());
  }
  if (pw == nullptr) throw config::config_error("proc-user: no user '" + user + "'");
  const uid_t uid = pw->pw_uid;
  gid_t gid = pw->pw_gid;
  const std::string name = pw->pw_name;
  if (!group.empty()) {
    const ::group* gr = nullptr;
    if (const auto n = number(group)) {
      // NOLINTNEXTLINE(concurrency-mt-unsafe): no other thread reads the user database
      gr = ::getgrgid(*n);
    } else {
      // NOLINTNEXTLINE(concurrency-mt-unsafe): no other thread reads the user database
      gr = ::getgrnam(group.c_str());
    }
    if (gr == nullptr) throw config::config_error("proc-group: no group '" + group + "'");
    gid = gr->gr_gid;
  }
  if (::geteuid() != 0) {
    if (::geteuid() == uid && ::getegid() == gid) return;  // already that user
    throw config::config_error("proc-user: the server runs as uid " + std::to_string(::geteuid()) +
                               ", not root: it cannot become " + user);
  }
  // Supplementary groups first (only root may set them), then the group, then the user.
  if (group.empty()) {
    if (::initgroups(name.c_str(), gid) != 0) fail("proc-user: initgroups");
  } else if (::setgroups(0, nullptr) != 0) {
    fail("proc-group: setgroups");
  }
  if (::setresgid(gid, gid, gid) != 0) fail("proc-group: setresgid");
  if (::setresuid(uid, uid, uid) != 0) fail("proc-user: setresuid");
  if (uid != 0 && (::setuid(0) == 0 || ::seteuid(0) == 0)) {
    throw config::config_error("proc-user: root could be regained after the switch");
  }
}

}  // namespace turnpike::server::process
