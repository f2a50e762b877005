// SPDX-License-Identifier: Apache-2.0
#include "server/net/embedded_bpf.hpp"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <fcntl.h>
#include <linux/if_link.h>
#include <net/if.h>
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

// What an interface is called, for messages.
std::string interface_name(int ifindex) {
  char name[IF_NAMESIZE] = {};
  if (::if_indextoname(static_cast<unsigned>(ifindex), name) == nullptr) {
    return std::to_string(ifindex);
  }
  return name;
}
// BPF_TCX_INGRESS (Linux 6.6), newer than the uapi headers this may be built with.
constexpr int tcx_ingress = 46;

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

embedded_bpf::embedded_bpf(const unsigned char* object, std::size_t size, std::string owner,
                           std::string needs, const std::function<bool(bpf_object&)>& size_maps)
    : owner_(std::move(owner)), needs_(std::move(needs)) {
  libbpf_set_print(libbpf_to_log);
  object_ = bpf_object__open_mem(object, size, nullptr);
  if (object_ == nullptr) fail("cannot open the BPF object", errno);
  if (!size_maps(*object_)) fail("the embedded program lacks its maps", EINVAL);
  if (const int err = bpf_object__load(object_); err != 0) fail("cannot load the program", err);
}

embedded_bpf::~embedded_bpf() {
  release();
}

void embedded_bpf::release() noexcept {
  for (bpf_link* link : links_) bpf_link__destroy(link);  // detaches the program
  links_.clear();
  for (const int fd : link_fds_) ::close(fd);  // the same, for links made by bpf_link_create
  link_fds_.clear();
  if (object_ != nullptr) bpf_object__close(object_);  // and the maps with it
  object_ = nullptr;
}

void embedded_bpf::fail(const std::string& what, int err) {
  release();
  refuse(what, err);
}

void embedded_bpf::refuse(const std::string& what, int err) const {
  err = err < 0 ? -err : err;
  throw std::runtime_error(owner_ + ": " + what + ": " + std::generic_category().message(err) +
                           (err == EPERM ? " (needs " + needs_ + ")" : ""));
}

int embedded_bpf::map(const char* name) {
  bpf_map* m = bpf_object__find_map_by_name(object_, name);
  if (m == nullptr) fail(std::string("the embedded program lacks its map ") + name, EINVAL);
  return bpf_map__fd(m);
}

bpf_program* embedded_bpf::find_program(const char* name) {
  bpf_program* prog = bpf_object__find_program_by_name(object_, name);
  if (prog == nullptr) fail(std::string("the embedded object lacks the program ") + name, EINVAL);
  return prog;
}

int embedded_bpf::program(const char* name) {
  return bpf_program__fd(find_program(name));
}

void embedded_bpf::attach_xdp(const char* name, int ifindex, xdp_mode mode) {
  bpf_program* prog = find_program(name);
  bpf_link_create_opts opts{};
  opts.sz = sizeof opts;
  opts.flags = mode == xdp_mode::native ? XDP_FLAGS_DRV_MODE : XDP_FLAGS_SKB_MODE;
  const int fd = bpf_link_create(bpf_program__fd(prog), ifindex, BPF_XDP, &opts);
  if (fd < 0) {
    const int err = errno;
    refuse("cannot attach XDP to " + interface_name(ifindex) +
               (err == EBUSY ? " (it holds another XDP program: another server with kernel-relay?)"
                             : ""),
           err);
  }
  link_fds_.push_back(fd);
}

void embedded_bpf::attach_tc_ingress(const char* name, int ifindex) {
  bpf_program* prog = find_program(name);
  bpf_link_create_opts opts{};
  opts.sz = sizeof opts;
  const int fd = bpf_link_create(bpf_program__fd(prog), ifindex,
                                 static_cast<bpf_attach_type>(tcx_ingress), &opts);
  if (fd < 0) {
    const int err = errno;
    refuse("cannot attach TC (tcx) to " + interface_name(ifindex) +
               (err == EINVAL ? " (tcx links need Linux 6.6 or later)" : ""),
           err);
  }
  link_fds_.push_back(fd);
}

void embedded_bpf::attach_netns(const char* name) {
  bpf_program* prog = find_program(name);
  const int netns = ::open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
  if (netns < 0) fail("cannot open /proc/self/ns/net", errno);
  bpf_link* link = bpf_program__attach_netns(prog, netns);
  const int err = errno;
  ::close(netns);
  if (link == nullptr) fail("cannot attach to the network namespace", err);
  links_.push_back(link);
}

}  // namespace turnpike::server::net
