// SPDX-License-Identifier: Apache-2.0
// Shard packing: the sk_lookup program that steers clients to shards, its maps, and the
// governor that sets how many shards take new clients.
#include "server/net/shard_packing.hpp"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <netinet/in.h>
#include <pthread.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <boost/system/system_error.hpp>
#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <string>
#include <system_error>

#include "server/net/bpf/client_steer_object.hpp"
#include "server/net/capabilities.hpp"
#include "server/net/embedded_bpf.hpp"

namespace turnpike::server::net {

namespace {

constexpr std::uint32_t active_slot = 0;
constexpr std::uint32_t shards_slot = 1;
constexpr auto govern_every = std::chrono::seconds(1);

}  // namespace

shard_packing::shard_packing(unsigned shards, std::uint64_t rate, std::uint32_t max_clients)
    : shards_(shards),
      rate_(static_cast<double>(rate)),
      received_(std::make_unique<counter[]>(shards)) {
  program_ = std::make_unique<embedded_bpf>(
      client_steer_object, sizeof client_steer_object, "shard-packing", "CAP_BPF and CAP_NET_ADMIN",
      [&](bpf_object& o) {
        return set_map_size(o, "clients", std::max<std::uint32_t>(1, max_clients)) &&
               set_map_size(o, "listen_sockets", max_listeners * shards);
      });
  listeners_map_ = program_->map("listeners");
  clients_map_ = program_->map("clients");
  settings_map_ = program_->map("settings");
  sockets_map_ = program_->map("listen_sockets");
  // Settings first, so the program never runs without them.
  const std::uint32_t one = 1;
  const std::uint32_t count = shards;
  if (bpf_map_update_elem(settings_map_, &active_slot, &one, BPF_ANY) != 0 ||
      bpf_map_update_elem(settings_map_, &shards_slot, &count, BPF_ANY) != 0) {
    throw std::runtime_error(std::string("shard-packing: cannot write the program's settings: ") +
                             std::generic_category().message(errno));
  }
  program_->attach_netns("client_steer");
}

shard_packing::~shard_packing() {
  stop();
}

std::optional<shard_packing::client_key> shard_packing::key_for(
    const protocol::transport_address& local,
    const protocol::transport_address& remote) const noexcept {
  const auto it = std::find_if(listeners_.begin(), listeners_.end(),
                               [&](const auto& l) { return l.first == local; });
  if (it == listeners_.end()) return std::nullopt;
  client_key k{};
  k.listener = it->second;
  k.port = htons(remote.port);
  std::memcpy(k.ip, remote.ip.data(), remote.family == protocol::address_family::ipv4 ? 4 : 16);
  return k;
}

void shard_packing::add_listener(const protocol::transport_address& bound, unsigned shard, int fd) {
  auto it = std::find_if(listeners_.begin(), listeners_.end(),
                         [&](const auto& l) { return l.first == bound; });
  if (it == listeners_.end()) {
    const auto index = static_cast<std::uint32_t>(listeners_.size());
    if (index >= max_listeners) {
      throw boost::system::system_error(std::make_error_code(std::errc::too_many_files_open),
                                        "shard-packing: more than 64 UDP listeners");
    }
    const address_key k = key_of(bound);  // a wildcard's IP is all zero
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
  const auto key = key_for(local, remote);
  const std::uint32_t value = shard;
  return key && bpf_map_update_elem(clients_map_, &*key, &value, BPF_ANY) == 0;
}

void shard_packing::unpin(const protocol::transport_address& local,
                          const protocol::transport_address& remote) noexcept {
  if (const auto key = key_for(local, remote)) bpf_map_delete_elem(clients_map_, &*key);
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
  if (n == active_) return;
  const std::uint32_t value = n;
  if (bpf_map_update_elem(settings_map_, &active_slot, &value, BPF_ANY) == 0) {
    spdlog::info("shard-packing: new clients go to {} of {} shard(s)", n, shards_);
    active_ = n;
  } else {
    spdlog::warn("shard-packing: cannot set the active shards: {}",
                 std::generic_category().message(errno));
  }
}

void shard_packing::start() {
  governor_ = std::thread([this] { govern(); });
  pthread_setname_np(governor_.native_handle(), "turnpike-pack");  // as top -H shows it
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
    set_active(choose_active(total, active_, shards_, rate_));
  }
}

}  // namespace turnpike::server::net
