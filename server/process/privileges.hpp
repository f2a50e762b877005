// SPDX-License-Identifier: Apache-2.0
// coturn's proc-user / proc-group: a server started as root (to bind ports below 1024) runs on
// as this user once every listener is bound. The group is proc-group, else the user's own
// group; the supplementary groups are the user's (none with proc-group).
#pragma once

#include <string>

namespace turnpike::server::process {

// Gives up root for `user` (name or uid) and `group` (name, gid or empty). Throws
// config::config_error naming what failed: an unknown user or group, or a server not started
// as root that is asked to become someone else. Afterwards root cannot be regained.
void drop_privileges(const std::string& user, const std::string& group);

}  // namespace turnpike::server::process
