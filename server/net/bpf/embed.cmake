# SPDX-License-Identifier: Apache-2.0
# cmake -DINPUT=relay_steer.bpf.o -DOUTPUT=relay_steer_object.hpp -DNAME=relay_steer_object -P embed.cmake
# Writes the bytes of INPUT as a C++ array NAME in namespace turnpike::server::net.
file(READ ${INPUT} hex HEX)
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
string(REGEX REPLACE "(0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,)" "\\1\n  " bytes "${bytes}")
file(WRITE ${OUTPUT}.tmp
"// Generated from ${INPUT} by server/net/bpf/embed.cmake: do not edit.
#pragma once
namespace turnpike::server::net {
inline constexpr unsigned char ${NAME}[] = {
  ${bytes}
};
}  // namespace turnpike::server::net
")
file(RENAME ${OUTPUT}.tmp ${OUTPUT})
