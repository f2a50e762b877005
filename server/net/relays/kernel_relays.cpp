// SPDX-License-Identifier: Apache-2.0
#include "server/net/relays/kernel_relays.hpp"

#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <net/if.h>

#include <cstring>
#include <filesystem>
#include <set>
#include <stdexcept>

#include "server/net/bpf/kernel_relay_object.hpp"
#include "server/net/capabilities.hpp"
#include "server/net/embedded_bpf.hpp"
#include "server/net/listen_plan.hpp"

namespace turnpike::server::net {

namespace {

constexpr const char* needs = "CAP_BPF and CAP_NET_ADMIN, or root";

std::uint16_t family_of(const protocol::transport_address& a) noexcept {
  return a.family == protocol::address_family::ipv4 ? TURNPIKE_KR_FAMILY_V4 : TURNPIKE_KR_FAMILY_V6;
}

// An address as the maps hold it: network byte order, IPv4 in the first word.
void put_ip(std::uint32_t (&out)[4], const protocol::transport_address& a) noexcept {
  std::memset(out, 0, sizeof out);
  std::memcpy(out, a.ip.data(), a.family == protocol::address_family::ipv4 ? 4 : 16);
}

std::uint16_t net_port(const protocol::transport_address& a) noexcept {
  return htons(a.port);
}

kernel::kr_channel_key channel_key(const engine::kernel_route& c) noexcept {
  kernel::kr_channel_key k{};
  put_ip(k.client_ip, c.client.remote);
  put_ip(k.server_ip, c.client.local);
  k.client_port = net_port(c.client.remote);
  k.server_port = net_port(c.client.local);
  k.channel = c.channel;
  k.family = family_of(c.client.remote);
  return k;
}

kernel::kr_peer_key peer_key(const engine::kernel_route& c) noexcept {
  kernel::kr_peer_key k{};
  put_ip(k.peer_ip, c.peer);
  put_ip(k.relay_ip, c.relayed);
  k.peer_port = net_port(c.peer);
  k.relay_port = net_port(c.relayed);
  k.family = family_of(c.peer);
  return k;
}

kernel::kr_route route_of(const engine::kernel_route& c) noexcept {
  kernel::kr_route r{};
  put_ip(r.client_ip, c.client.remote);
  put_ip(r.server_ip, c.client.local);
  put_ip(r.relay_ip, c.relayed);
  put_ip(r.peer_ip, c.peer);
  r.client_port = net_port(c.client.remote);
  r.server_port = net_port(c.client.local);
  r.relay_port = net_port(c.relayed);
  r.peer_port = net_port(c.peer);
  r.channel = c.channel;
  r.family = family_of(c.client.remote);
  r.counter = c.slot;
  // steady_clock is CLOCK_MONOTONIC, the clock of bpf_ktime_get_ns.
  const auto ns =
      std::chrono::duration_cast<std::chrono::nanoseconds>(c.expires.time_since_epoch()).count();
  r.expires_ns = ns > 0 ? static_cast<std::uint64_t>(ns) : 0;
  return r;
}

// Whether the interface is a device's (sysfs gives it a `device`: PCI, virtio, ...) rather than
// a virtual one (loopback, veth, bridge, ...).
bool hardware_interface(const std::string& name) {
  std::error_code ec;
  return std::filesystem::exists(std::filesystem::path("/sys/class/net") / name / "device", ec);
}

}  // namespace

kernel_relays::kernel_relays(limits l) : hook_(l.hook) {
  bpf_ = std::make_unique<embedded_bpf>(kernel_relay_object, sizeof kernel_relay_object,
                                        "kernel-relay", needs, [&](bpf_object& o) {
                                          return set_map_size(o, "kr_channels", l.channels) &&
                                                 set_map_size(o, "kr_peers", l.channels) &&
                                                 set_map_size(o, "kr_counters", l.allocations);
                                        });
  channels_ = bpf_->map("kr_channels");
  peers_ = bpf_->map("kr_peers");
  counters_ = bpf_->map("kr_counters");
  outcomes_ = bpf_->map("kr_outcomes");
  local_ = bpf_->map("kr_local");
  for (const auto& own : interface_addresses()) {
    kernel::kr_local_key key{};
    put_ip(key.ip, own);
    key.family = family_of(own);
    const std::uint8_t one = 1;
    bpf_map_update_elem(local_, &key, &one, BPF_ANY);
  }
  program_ = bpf_->program(hook_ == kernel_hook::tc ? "kernel_relay_tc" : "kernel_relay");
  const int cpus = libbpf_num_possible_cpus();
  cpus_ = cpus > 0 ? static_cast<unsigned>(cpus) : 1;
  free_slots_.reserve(l.allocations);
  for (std::uint32_t s = l.allocations; s > 0; --s) free_slots_.push_back(s - 1);
}

kernel_relays::~kernel_relays() = default;

std::string kernel_relays::attach(const std::string& name) {
  const auto index = static_cast<int>(::if_nametoindex(name.c_str()));
  auto xdp = [&](xdp_mode mode) {
    bpf_->attach_xdp("kernel_relay", index, mode);
    return mode == xdp_mode::native ? "native" : "generic";
  };
  auto tc = [&] {
    bpf_->attach_tc_ingress("kernel_relay_tc", index);
    return "tc";
  };
  switch (hook_) {
    case kernel_hook::xdp_native:
      return xdp(xdp_mode::native);
    case kernel_hook::xdp_generic:
      return xdp(xdp_mode::generic);
    case kernel_hook::tc:
      return tc();
    case kernel_hook::any:
      break;
  }
  // auto: XDP in the driver of a device (a NIC's, a VM's virtio or cloud adapter) where it
  // has it; else TC, which, unlike XDP in generic mode, sees which skbs hold a batch (GSO,
  // GRO) and relays datagrams of this machine's own processes (loopback's, say); else (before
  // Linux 6.6) XDP in generic mode. Not XDP on a virtual interface: veth has it in its
  // driver, but what XDP sends back out of a veth is lost unless the other end runs XDP too
  // (a container's veth, say).
  if (hardware_interface(name)) {
    try {
      return xdp(xdp_mode::native);
    } catch (const std::runtime_error&) {
    }
  }
  try {
    return tc();
  } catch (const std::runtime_error&) {
  }
  return xdp(xdp_mode::generic);
}

std::string kernel_relays::attach_for(const std::vector<protocol::transport_address>& ips) {
  std::set<std::string> names;
  for (const auto& here : named_interface_addresses()) {
    for (const auto& ip : ips) {
      if (ip.family == here.address.family && (ip.is_unspecified() || ip.ip == here.address.ip)) {
        names.insert(here.name);
      }
    }
  }
  std::string done;
  for (const auto& name : names) {
    if (::if_nametoindex(name.c_str()) == 0) continue;  // gone since
    const auto mode = attach(name);
    if (!done.empty()) done += ", ";
    done += name;
    done += " (";
    done += mode;
    done += ")";
  }
  if (done.empty()) throw std::runtime_error("kernel-relay: no interface carries the addresses");
  return done;
}

std::string kernel_relays::drop_capabilities() {
  return net::drop_capabilities({CAP_BPF, CAP_NET_ADMIN}, "CAP_BPF and CAP_NET_ADMIN", [this] {
    const kernel::kr_local_key probe{};  // family 0: never looked up
    const std::uint8_t one = 1;
    return bpf_map_update_elem(local_, &probe, &one, BPF_ANY) == 0 &&
           bpf_map_delete_elem(local_, &probe) == 0;
  });
}

kernel_relays::test_run kernel_relays::run(protocol::byte_span frame) const {
  test_run out;
  out.frame.resize(frame.size() + 256);
  bpf_test_run_opts opts{};
  opts.sz = sizeof opts;
  opts.data_in = frame.data();
  opts.data_size_in = static_cast<std::uint32_t>(frame.size());
  opts.data_out = out.frame.data();
  opts.data_size_out = static_cast<std::uint32_t>(out.frame.size());
  opts.repeat = 1;
  if (bpf_prog_test_run_opts(program_, &opts) != 0) {
    out.frame.clear();
    return out;
  }
  out.verdict = static_cast<int>(opts.retval);
  out.frame.resize(opts.data_size_out);
  return out;
}

std::optional<std::uint32_t> kernel_relays::take_slot() {
  std::uint32_t slot = 0;
  {
    const std::lock_guard lock(slots_mutex_);
    if (free_slots_.empty()) return std::nullopt;
    slot = free_slots_.back();
    free_slots_.pop_back();
  }
  zero(slot);
  return slot;
}

void kernel_relays::give_slot(std::uint32_t slot) {
  const std::lock_guard lock(slots_mutex_);
  free_slots_.push_back(slot);
}

void kernel_relays::zero(std::uint32_t slot) noexcept {
  const std::vector<kernel::kr_counter> values(cpus_);
  bpf_map_update_elem(counters_, &slot, values.data(), BPF_ANY);
}

bool kernel_relays::install(const engine::kernel_route& c) {
  if (c.client.remote.family != c.client.local.family ||
      c.client.remote.family != c.relayed.family || c.relayed.family != c.peer.family) {
    return false;
  }
  const auto route = route_of(c);
  const auto ck = channel_key(c);
  const auto pk = peer_key(c);
  if (bpf_map_update_elem(channels_, &ck, &route, BPF_ANY) != 0) return false;
  if (bpf_map_update_elem(peers_, &pk, &route, BPF_ANY) != 0) {
    bpf_map_delete_elem(channels_, &ck);
    return false;
  }
  return true;
}

void kernel_relays::remove(const engine::kernel_route& c) {
  const auto ck = channel_key(c);
  const auto pk = peer_key(c);
  bpf_map_delete_elem(channels_, &ck);
  bpf_map_delete_elem(peers_, &pk);
}

engine::allocation_traffic kernel_relays::traffic(std::uint32_t slot) {
  std::vector<kernel::kr_counter> values(cpus_);
  engine::allocation_traffic t;
  if (bpf_map_lookup_elem(counters_, &slot, values.data()) != 0) return t;
  for (const auto& v : values) {
    t.received_packets += v.to_peer_packets;
    t.received_bytes += v.to_peer_bytes;
    t.sent_packets += v.to_client_packets;
    t.sent_bytes += v.to_client_bytes;
  }
  return t;
}

kernel_outcomes kernel_relays::outcomes() const noexcept {
  kernel_outcomes out{};
  std::vector<std::uint64_t> values(cpus_);
  for (std::uint32_t i = 0; i < kernel::KR_OUTCOMES; ++i) {
    if (bpf_map_lookup_elem(outcomes_, &i, values.data()) != 0) continue;
    for (const auto v : values) out[i] += v;
  }
  return out;
}

}  // namespace turnpike::server::net
