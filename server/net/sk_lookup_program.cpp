// SPDX-License-Identifier: Apache-2.0
#include "server/net/sk_lookup_program.hpp"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <stdexcept>
#include <string_view>
#include <system_error>

namespace turnpike::server::net {

namespace {

int libbpf_to_log(enum libbpf_print_level level, const char* format, va_list args) {
  if (level == LIBBPF_DEBUG) return 0;
  char line[512];
  const int n = std::vsnprintf(line, sizeof line, format, args);
  std::string_view text(
      line, n > 0 ? std::min<std::size_t>(static_cast<std::size_t>(n), sizeof line - 1) : 0);
  while (!text.empty() && text.back() == '\n') text.remove_suffix(1);
  spdlog::debug("libbpf: {}", text);
  return n;
}

}  // namespace

address_key key_of(const protocol::transport_address& a) noexcept {
  address_key k{};
  k.port = a.port;
  if (a.family == protocol::address_family::ipv4) {
    k.family = AF_INET;
    std::memcpy(k.ip, a.ip.data(), 4);
  } else {
    k.family = AF_INET6;
    std::memcpy(k.ip, a.ip.data(), 16);
  }
  return k;
}

bool set_map_size(bpf_object& object, const char* name, std::uint32_t entries) noexcept {
  bpf_map* m = bpf_object__find_map_by_name(&object, name);
  return m != nullptr && bpf_map__set_max_entries(m, entries) == 0;
}

sk_lookup_program::sk_lookup_program(const unsigned char* object, std::size_t size,
                                     std::string owner, std::string needs,
                                     const std::function<bool(bpf_object&)>& size_maps)
    : owner_(std::move(owner)), needs_(std::move(needs)) {
  libbpf_set_print(libbpf_to_log);
  object_ = bpf_object__open_mem(object, size, nullptr);
  if (object_ == nullptr) fail("cannot open the sk_lookup program", errno);
  if (!size_maps(*object_)) fail("the embedded program lacks its maps", EINVAL);
  if (const int err = bpf_object__load(object_); err != 0) fail("cannot load the program", err);
}

sk_lookup_program::~sk_lookup_program() {
  release();
}

void sk_lookup_program::release() noexcept {
  if (link_ != nullptr) bpf_link__destroy(link_);  // detaches the program
  link_ = nullptr;
  if (object_ != nullptr) bpf_object__close(object_);  // and the maps with it
  object_ = nullptr;
}

void sk_lookup_program::fail(const std::string& what, int err) {
  err = err < 0 ? -err : err;
  release();
  throw std::runtime_error(owner_ + ": " + what + ": " + std::generic_category().message(err) +
                           (err == EPERM ? " (needs " + needs_ + ")" : ""));
}

int sk_lookup_program::map(const char* name) {
  bpf_map* m = bpf_object__find_map_by_name(object_, name);
  if (m == nullptr) fail(std::string("the embedded program lacks its map ") + name, EINVAL);
  return bpf_map__fd(m);
}

void sk_lookup_program::attach(const char* name) {
  bpf_program* prog = bpf_object__find_program_by_name(object_, name);
  if (prog == nullptr) fail(std::string("the embedded object lacks the program ") + name, EINVAL);
  const int netns = ::open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
  if (netns < 0) fail("cannot open /proc/self/ns/net", errno);
  link_ = bpf_program__attach_netns(prog, netns);
  const int err = errno;
  ::close(netns);
  if (link_ == nullptr) fail("cannot attach to the network namespace", err);
}

}  // namespace turnpike::server::net
