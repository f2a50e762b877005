// SPDX-License-Identifier: Apache-2.0
// A BPF object embedded in the binary (server/net/bpf/, compiled by clang at build time):
// opened, its maps sized, loaded, and its programs attached with libbpf links (an sk_lookup
// program to the process's network namespace, an XDP or TC program to an interface), so that they
// are detached when the object is freed or the process ends, however it ends. relay-mux,
// shard-packing and the kernel relay each own one.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "protocol/types.hpp"

struct bpf_object;
struct bpf_link;
struct bpf_program;

namespace turnpike::server::net {

// A transport address as the programs' maps key it. Keep in step with the programs.
struct address_key {
  std::uint32_t family;  // AF_INET or AF_INET6
  std::uint32_t port;    // host byte order
  std::uint32_t ip[4];   // network byte order; IPv4 in ip[0]; all zero for a wildcard
};
address_key key_of(const protocol::transport_address& a) noexcept;

// Sets the size of map `name` in an opened (not yet loaded) object; false when there is none.
bool set_map_size(bpf_object& object, const char* name, std::uint32_t entries) noexcept;

enum class xdp_mode { native, generic };

class embedded_bpf {
 public:
  // Opens `object` (`size` bytes), lets `size_maps` set map sizes (false: a map is missing),
  // loads it (every program in it passes the verifier here). Errors throw std::runtime_error
  // "<owner>: <what>: <reason>", with " (needs <needs>)" on EPERM.
  embedded_bpf(const unsigned char* object, std::size_t size, std::string owner, std::string needs,
               const std::function<bool(bpf_object&)>& size_maps);
  ~embedded_bpf();
  embedded_bpf(const embedded_bpf&) = delete;
  embedded_bpf& operator=(const embedded_bpf&) = delete;

  // A loaded map's descriptor; throws (as above) when the object has no such map.
  int map(const char* name);
  // A loaded program's descriptor (for BPF_PROG_TEST_RUN, say); throws when there is none.
  int program(const char* name);
  // Attaches the sk_lookup program `name` to the process's network namespace.
  void attach_netns(const char* name);
  // Attaches the XDP program `name` to interface `ifindex` in `mode` (native: in the driver,
  // which refuses when it has none; generic: on the stack's receive path). On failure (as on
  // the TC attach's) it throws and the object stays loaded and usable.
  void attach_xdp(const char* name, int ifindex, xdp_mode mode);
  // Attaches the TC program `name` to interface `ifindex`'s ingress with a tcx link (Linux
  // 6.6 or later; earlier kernels refuse it and the error says so).
  void attach_tc_ingress(const char* name, int ifindex);

 private:
  // Throws "<owner>: <what>: <reason>"; fail() frees the object first (a load that failed),
  // refuse() leaves it loaded and attached where it was (an attach that failed).
  [[noreturn]] void fail(const std::string& what, int err);
  [[noreturn]] void refuse(const std::string& what, int err) const;
  bpf_program* find_program(const char* name);
  void release() noexcept;

  std::string owner_;
  std::string needs_;
  bpf_object* object_ = nullptr;
  std::vector<bpf_link*> links_;
  std::vector<int> link_fds_;
};

}  // namespace turnpike::server::net
