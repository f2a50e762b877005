// SPDX-License-Identifier: Apache-2.0
// Shard packing: the sk_lookup program that steers clients to shards, its maps, and the
// governor that sets how many shards take new clients.
#include "server/net/shard_packing.hpp"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <boost/system/system_error.hpp>
#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <string>

#include "server/net/bpf/client_steer_object.hpp"
#include "server/net/capabilities.hpp"

namespace turnpike::server::net {

namespace {

// Keep in step with bpf/client_steer.bpf.c.
struct listener_key {
  std::uint32_t family;
  std::uint32_t port;
  std::uint32_t ip[4];
};
struct client_key {
  std::uint32_t listener;
  std::uint32_t port;
  std::uint32_t ip[4];
};

void copy_ip(const protocol::transport_address& a, std::uint32_t (&ip)[4]) noexcept {
  std::memcpy(ip, a.ip.data(), a.family == protocol::address_family::ipv4 ? 4 : 16);
}

constexpr std::uint32_t active_slot = 0;
constexpr std::uint32_t shards_slot = 1;
constexpr auto govern_every = std::chrono::seconds(1);

}  // namespace

shard_packing::shard_packing(unsigned shards, std::uint64_t rate, std::uint32_t max_clients)
    : shards_(shards),
      rate_(static_cast<double>(rate)),
      received_(std::make_unique<counter[]>(shards)) {
  auto fail = [this](const std::string& what, int err) {
    const std::string reason = what + ": " + std::strerror(err < 0 ? -err : err);
    release();
    throw std::runtime_error("shard-packing: " + reason +
                             (err == EPERM || -err == EPERM ? " (needs CAP_BPF and CAP_NET_ADMIN)"
                                                            : ""));
  };
  object_ = bpf_object__open_mem(client_steer_object, sizeof client_steer_object, nullptr);
  if (object_ == nullptr) fail("cannot open the sk_lookup program", errno);
  bpf_map* listeners = bpf_object__find_map_by_name(object_, "listeners");
  bpf_map* clients = bpf_object__find_map_by_name(object_, "clients");
  bpf_map* settings = bpf_object__find_map_by_name(object_, "settings");
  bpf_map* sockets = bpf_object__find_map_by_name(object_, "listen_sockets");
  bpf_program* prog = bpf_object__find_program_by_name(object_, "client_steer");
  if (listeners == nullptr || clients == nullptr || settings == nullptr || sockets == nullptr ||
      prog == nullptr) {
    fail("the embedded program lacks its maps", EINVAL);
  }
  bpf_map__set_max_entries(clients, std::max<std::uint32_t>(1, max_clients));
  bpf_map__set_max_entries(sockets, 64 * shards);
  if (const int err = bpf_object__load(object_); err != 0) fail("cannot load the program", err);
  listeners_map_ = bpf_map__fd(listeners);
  clients_map_ = bpf_map__fd(clients);
  settings_map_ = bpf_map__fd(settings);
  sockets_map_ = bpf_map__fd(sockets);
  const std::uint32_t one = 1;
  const std::uint32_t count = shards;
  if (bpf_map_update_elem(settings_map_, &active_slot, &one, BPF_ANY) != 0 ||
      bpf_map_update_elem(settings_map_, &shards_slot, &count, BPF_ANY) != 0) {
    fail("cannot write the program's settings", errno);
  }
  const int netns = ::open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
  if (netns < 0) fail("cannot open /proc/self/ns/net", errno);
  link_ = bpf_program__attach_netns(prog, netns);
  const int attach_err = errno;
  ::close(netns);
  if (link_ == nullptr) fail("cannot attach to the network namespace", attach_err);
}

shard_packing::~shard_packing() {
  stop();
  release();
}

void shard_packing::release() noexcept {
  if (link_ != nullptr) bpf_link__destroy(link_);  // detaches the program
  link_ = nullptr;
  if (object_ != nullptr) bpf_object__close(object_);  // and the maps with it
  object_ = nullptr;
}

void shard_packing::add_listener(const protocol::transport_address& bound, unsigned shard,
                                 int fd) {
  auto it = std::find_if(listeners_.begin(), listeners_.end(),
                         [&](const auto& l) { return l.first == bound; });
  if (it == listeners_.end()) {
    const auto index = static_cast<std::uint32_t>(listeners_.size());
    if (index >= 64) {
      throw boost::system::system_error(std::make_error_code(std::errc::too_many_files_open),
                                        "shard-packing: more than 64 UDP listeners");
    }
    listener_key k{};
    k.family = bound.family == protocol::address_family::ipv4 ? AF_INET : AF_INET6;
    k.port = bound.port;
    if (!bound.is_unspecified()) copy_ip(bound, k.ip);
    if (bpf_map_update_elem(listeners_map_, &k, &index, BPF_ANY) != 0) {
      throw boost::system::system_error(errno, boost::system::system_category(),
                                        "shard-packing: cannot add a listener to the map");
    }
    it = listeners_.insert(listeners_.end(), {bound, index});
  }
  const std::uint32_t slot = it->second * shards_ + shard;
  const std::uint64_t value = static_cast<std::uint64_t>(fd);
  if (bpf_map_update_elem(sockets_map_, &slot, &value, BPF_ANY) != 0) {
    throw boost::system::system_error(errno, boost::system::system_category(),
                                      "shard-packing: cannot add a listening socket to the map");
  }
}

bool shard_packing::pin(const protocol::transport_address& local,
                        const protocol::transport_address& remote, unsigned shard) noexcept {
  const auto it = std::find_if(listeners_.begin(), listeners_.end(),
                               [&](const auto& l) { return l.first == local; });
  if (it == listeners_.end()) return false;
  client_key k{};
  k.listener = it->second;
  k.port = htons(remote.port);
  copy_ip(remote, k.ip);
  const std::uint32_t value = shard;
  return bpf_map_update_elem(clients_map_, &k, &value, BPF_ANY) == 0;
}

void shard_packing::unpin(const protocol::transport_address& local,
                          const protocol::transport_address& remote) noexcept {
  const auto it = std::find_if(listeners_.begin(), listeners_.end(),
                               [&](const auto& l) { return l.first == local; });
  if (it == listeners_.end()) return;
  client_key k{};
  k.listener = it->second;
  k.port = htons(remote.port);
  copy_ip(remote, k.ip);
  bpf_map_delete_elem(clients_map_, &k);
}

std::string shard_packing::drop_capabilities() {
  return net::drop_capabilities({CAP_BPF, CAP_NET_ADMIN}, "CAP_BPF and CAP_NET_ADMIN", [this] {
    client_key probe{};
    probe.listener = ~std::uint32_t{0};  // no such listener: never looked up
    const std::uint32_t shard = 0;
    return bpf_map_update_elem(clients_map_, &probe, &shard, BPF_ANY) == 0 &&
           bpf_map_delete_elem(clients_map_, &probe) == 0;
  });
}

unsigned shard_packing::choose_active(double total, unsigned current, unsigned shards,
                                      double rate) noexcept {
  current = std::clamp(current, 1u, shards);
  if (rate <= 0) return shards;
  while (current < shards && total > rate * current) ++current;
  while (current > 1 && total < 0.75 * rate * (current - 1)) --current;
  return current;
}

void shard_packing::set_active(unsigned n) noexcept {
  if (n == active_.load(std::memory_order_relaxed)) return;
  const std::uint32_t value = n;
  if (bpf_map_update_elem(settings_map_, &active_slot, &value, BPF_ANY) == 0) {
    spdlog::info("shard-packing: new clients go to {} of {} shard(s)", n, shards_);
    active_.store(n, std::memory_order_relaxed);
  } else {
    spdlog::warn("shard-packing: cannot set the active shards: {}", std::strerror(errno));
  }
}

void shard_packing::start() {
  governor_ = std::thread([this] { govern(); });
}

void shard_packing::stop() noexcept {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (governor_.joinable()) governor_.join();
}

void shard_packing::govern() {
  std::vector<std::uint64_t> before(shards_);
  auto then = std::chrono::steady_clock::now();
  for (unsigned i = 0; i < shards_; ++i) before[i] = received_[i].value.load();
  std::unique_lock lock(mutex_);
  while (!wake_.wait_for(lock, govern_every, [this] { return stopping_; })) {
    const auto now = std::chrono::steady_clock::now();
    const double seconds = std::chrono::duration<double>(now - then).count();
    then = now;
    std::uint64_t datagrams = 0;
    for (unsigned i = 0; i < shards_; ++i) {
      const std::uint64_t v = received_[i].value.load(std::memory_order_relaxed);
      datagrams += v - before[i];
      before[i] = v;
    }
    const double total = seconds > 0 ? static_cast<double>(datagrams) / seconds : 0;
    spdlog::debug("shard-packing: {:.0f} datagrams/s", total);
    set_active(choose_active(total, active(), shards_, rate_));
  }
}

}  // namespace turnpike::server::net
