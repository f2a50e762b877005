# SPDX-License-Identifier: Apache-2.0
# The Debian package (cpack -G DEB in the build directory, or `cmake --build build --target
# package`): turnpike_<version>_amd64.deb with the binaries in /usr/bin, the systemd unit,
# the turnpike system user (made by postinst), /etc/turnpike/turnserver.conf as a conffile
# (turnserver.conf.example, every line commented out) and the example beside it. Depends are
# worked out by dpkg-shlibdeps from the binaries, plus what the maintainer scripts call.
set(debian_dir ${PROJECT_SOURCE_DIR}/deploy/debian)

install(TARGETS turnpike turnpike-admin RUNTIME DESTINATION usr/bin)
install(FILES ${PROJECT_SOURCE_DIR}/turnserver.conf.example
        DESTINATION etc/turnpike RENAME turnserver.conf)  # postinst: root:turnpike 0640
install(FILES ${PROJECT_SOURCE_DIR}/turnserver.conf.example
        DESTINATION usr/share/doc/turnpike)

# The unit of deploy/ as a package installs it: binaries in /usr/bin, the package's system
# user instead of a dynamic one (the configuration directory is owned by it).
file(READ ${PROJECT_SOURCE_DIR}/deploy/turnpike.service unit)
string(REPLACE "/usr/local/bin/" "/usr/bin/" unit "${unit}")
string(REPLACE "DynamicUser=yes" "User=turnpike\nGroup=turnpike" unit "${unit}")
string(REGEX REPLACE "^# systemd unit for Turnpike\\. Install[^\n]*\n#[^\n]*\n#[^\n]*\n"
       "# systemd unit for Turnpike, as its Debian package installs it.\n" unit "${unit}")
file(WRITE ${CMAKE_CURRENT_BINARY_DIR}/package/turnpike.service "${unit}")
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/package/turnpike.service DESTINATION lib/systemd/system)

# Debian's documentation files: the copyright and a compressed changelog (changelog.gz: the
# version has no Debian revision, so this is a native package).
install(FILES ${debian_dir}/copyright DESTINATION usr/share/doc/turnpike)
add_custom_command(
  OUTPUT ${CMAKE_CURRENT_BINARY_DIR}/package/changelog.gz
  COMMAND gzip -9n -c ${debian_dir}/changelog > ${CMAKE_CURRENT_BINARY_DIR}/package/changelog.gz
  DEPENDS ${debian_dir}/changelog)
add_custom_target(debian_changelog ALL DEPENDS ${CMAKE_CURRENT_BINARY_DIR}/package/changelog.gz)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/package/changelog.gz
        DESTINATION usr/share/doc/turnpike)

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME turnpike)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGING_INSTALL_PREFIX /)
set(CPACK_STRIP_FILES ON)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_MAINTAINER
    "Turnpike maintainers <maintainers@users.noreply.b-seed-8b8e81d4.example>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "STUN/TURN relay server for WebRTC")
set(CPACK_DEBIAN_PACKAGE_DESCRIPTION
    "Turnpike relays WebRTC media and data for clients behind NATs and firewalls\n(STUN, TURN over UDP, TCP, TLS and DTLS). It reads coturn's turnserver.conf\noptions and coturn's Redis, SQLite and PostgreSQL user databases, and exports\nPrometheus metrics.")
# (The summary above is the synopsis line; this is the extended description.)
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_DEPENDS "adduser")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    ${debian_dir}/conffiles ${debian_dir}/postinst ${debian_dir}/prerm ${debian_dir}/postrm)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
include(CPack)
