// SPDX-License-Identifier: Apache-2.0
// The kernel relay (kernel-relay): bound channels of UDP clients on UDP relays relayed by a
// BPF program at XDP or TC ingress (server/net/bpf/kernel_relay.bpf.c) without waking a shard. One
// per process, shared by the shards (map updates are system calls, safe from any thread): the
// engine installs a channel when it is bound with its permission, with the expiry of whichever ends
// first, and removes it when either ends, the allocation goes or the peer policy changes. The
// program reads the expiry against the kernel's clock itself. What the kernel relayed is
// counted per allocation in per-CPU slots that the shards fold into their accounting.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "protocol/bytes.hpp"
#include "protocol/types.hpp"
#include "server/engine/kernel_io.hpp"
#include "server/net/bpf/kernel_relay_maps.h"
#include "server/net/embedded_bpf.hpp"

namespace turnpike::server::net {

using kernel_outcomes = std::array<std::uint64_t, kernel::KR_OUTCOMES>;
// The outcomes' label values (turnpike_kernel_relay_datagrams_total), in kr_outcome order.
inline constexpr std::array<const char*, kernel::KR_OUTCOMES> kernel_outcome_names{
    "relayed_to_peer", "relayed_to_client", "not_ours", "not_handled",
    "expired",         "no_route",          "too_big",  "forwarding_off"};

// Where the program runs. any: XDP in the driver of a device (not a virtual interface) where
// it has it, else TC, else (before Linux 6.6) XDP in generic mode.
enum class kernel_hook { any, xdp_native, xdp_generic, tc };

class kernel_relays final : public engine::kernel_io {
 public:
  struct limits {
    std::uint32_t channels = 65536;     // entries per direction
    std::uint32_t allocations = 65536;  // counter slots
    kernel_hook hook = kernel_hook::any;
  };
  // Loads the program (the verifier checks it here) and tells it the machine's own addresses
  // (getifaddrs). Throws std::runtime_error with the reason ("needs CAP_BPF and
  // CAP_NET_ADMIN" when refused).
  explicit kernel_relays(limits l);
  ~kernel_relays();
  kernel_relays(const kernel_relays&) = delete;
  kernel_relays& operator=(const kernel_relays&) = delete;

  // Attaches to every interface that carries one of `ips` (every interface that is up for a
  // wildcard); returns what was done, for the log ("lo (generic), eth0 (native)").
  std::string attach_for(const std::vector<protocol::transport_address>& ips);
  // Drops CAP_BPF and CAP_NET_ADMIN once attached (net::drop_capabilities); for the log.
  std::string drop_capabilities();

  // engine::kernel_io. A slot comes zeroed. install() is false when the route cannot be
  // relayed in the kernel (client and relay of different families) or a map is full.
  std::optional<std::uint32_t> take_slot() override;
  void give_slot(std::uint32_t slot) override;
  bool install(const engine::kernel_route& route) override;
  void remove(const engine::kernel_route& route) override;
  engine::allocation_traffic traffic(std::uint32_t slot) override;

  kernel_outcomes outcomes() const noexcept;
  // Runs the program once over the Ethernet frame `frame` (BPF_PROG_TEST_RUN, as if it came
  // in on loopback): the verdict (XDP's or TC's) and the frame as the program left it (-1 and
  // nothing when the kernel refused the run). For tests.
  struct test_run {
    int verdict = -1;
    std::vector<std::uint8_t> frame;
  };
  test_run run(protocol::byte_span frame) const;

 private:
  void zero(std::uint32_t slot) noexcept;
  // Attaches the program to interface `name` for as long as this object lives; returns the
  // hook it runs at: "native" or "generic" (XDP) or "tc". Throws as above.
  std::string attach(const std::string& name);

  std::unique_ptr<embedded_bpf> bpf_;
  kernel_hook hook_;
  int channels_ = -1;
  int peers_ = -1;
  int counters_ = -1;
  int outcomes_ = -1;
  int local_ = -1;
  int program_ = -1;
  unsigned cpus_ = 1;
  std::mutex slots_mutex_;
  std::vector<std::uint32_t> free_slots_;
};

}  // namespace turnpike::server::net
