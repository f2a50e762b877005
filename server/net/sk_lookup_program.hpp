// SPDX-License-Identifier: Apache-2.0
// An sk_lookup BPF program embedded in the binary (server/net/bpf/, compiled by clang at build
// time): opened, its maps sized, loaded, and attached to the process's network namespace with
// libbpf; detached and freed with the object. relay-mux and shard-packing each own one.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>

#include "protocol/types.hpp"

struct bpf_object;
struct bpf_link;

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

class sk_lookup_program {
 public:
  // Opens `object` (`size` bytes), lets `size_maps` set map sizes (false: a map is missing),
  // loads it. Errors throw std::runtime_error "<owner>: <what>: <reason>", with
  // " (needs <needs>)" on EPERM.
  sk_lookup_program(const unsigned char* object, std::size_t size, std::string owner,
                    std::string needs, const std::function<bool(bpf_object&)>& size_maps);
  ~sk_lookup_program();
  sk_lookup_program(const sk_lookup_program&) = delete;
  sk_lookup_program& operator=(const sk_lookup_program&) = delete;

  // A loaded map's descriptor; throws (as above) when the object has no such map.
  int map(const char* name);
  // Attaches the program `name` to the process's network namespace.
  void attach(const char* name);

 private:
  [[noreturn]] void fail(const std::string& what, int err);
  void release() noexcept;

  std::string owner_;
  std::string needs_;
  bpf_object* object_ = nullptr;
  bpf_link* link_ = nullptr;
};

}  // namespace turnpike::server::net
