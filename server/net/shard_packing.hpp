// SPDX-License-Identifier: Apache-2.0
// Shard packing (option shard-packing): clients placed on as few shards as the load needs.
//
// With SO_REUSEPORT alone the kernel hashes each client over every shard, so at light load a
// burst of datagrams from many clients wakes every shard, each to find a datagram or two; a
// wake-up costs far more than the datagrams it brings (bench/README.md: one shard used half
// the CPU per relayed round trip of two at 4000 round trips/s). Here an sk_lookup BPF program
// attached to the server's network namespace chooses the listening socket instead: a client
// that holds an allocation goes to the shard that holds it (pinned when the allocation is
// made, unpinned when it goes); any other client to one of the first `active` shards, by a
// hash of its address. Once a second the governor sets `active` from the datagrams all shards
// received: one more shard for every `rate` datagrams per second, one fewer once the load
// fits in one fewer with a quarter to spare; all of them means the kernel's hash again. So
// new allocations fill shard 0 first and spread as the load grows. Allocations never move:
// load that grows later on allocations already placed stays on their shard.
//
// Needs CAP_BPF and CAP_NET_ADMIN (root) and Linux 5.9 or later; not with DTLS on the UDP
// listeners (a DTLS session is not pinned).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "protocol/types.hpp"

namespace turnpike::server::net {

class embedded_bpf;

class shard_packing {
 public:
  // Loads and attaches the program; throws std::runtime_error with the reason. `rate`:
  // datagrams per second (received, client and peer) per active shard; at most `max_clients`
  // clients are pinned at once (more are not: the program's hash places them, as if they had
  // no allocation).
  shard_packing(unsigned shards, std::uint64_t rate, std::uint32_t max_clients);
  ~shard_packing();
  shard_packing(const shard_packing&) = delete;
  shard_packing& operator=(const shard_packing&) = delete;

  // Before start() (from shard::init_engine): `fd` is `shard`'s UDP listening socket bound to
  // `bound` (the same addresses on every shard). Throws boost::system::system_error on
  // failure.
  void add_listener(const protocol::transport_address& bound, unsigned shard, int fd);
  // Starts the governor (a thread named turnpike-pack, waking once a second); stop() ends it.
  void start();
  void stop() noexcept;

  // Thread-safe (a map update each): datagrams from `remote` to the listener bound to
  // `local` go to `shard` from now on / no longer. False when the client could not be pinned.
  bool pin(const protocol::transport_address& local, const protocol::transport_address& remote,
           unsigned shard) noexcept;
  void unpin(const protocol::transport_address& local,
             const protocol::transport_address& remote) noexcept;
  // A shard's running count of the datagrams it received, a GRO run counting once (its own
  // thread, once per poll round; a relaxed store).
  void report(unsigned shard, std::uint64_t datagrams) noexcept {
    received_[shard].value.store(datagrams, std::memory_order_relaxed);
  }
  // After set-up, when relay-mux is off (its drop covers these): CAP_BPF and CAP_NET_ADMIN
  // are no longer needed (capabilities.hpp). Returns what was done, for the log.
  std::string drop_capabilities();

  // The governor's choice: how many shards take new clients, given the datagrams per second
  // all of them received and how many did until now.
  static unsigned choose_active(double total, unsigned current, unsigned shards,
                                double rate) noexcept;

 private:
  static constexpr std::uint32_t max_listeners = 64;  // the program's `listeners` map
  // Keep in step with bpf/client_steer.bpf.c (listeners are keyed by an address_key).
  struct client_key {
    std::uint32_t listener;
    std::uint32_t port;  // network byte order in the low 16 bits, as sk_lookup gives it
    std::uint32_t ip[4];
  };
  // The clients map's key for `remote` on the listener bound to `local`; nullopt when no
  // listener is bound there.
  std::optional<client_key> key_for(const protocol::transport_address& local,
                                    const protocol::transport_address& remote) const noexcept;
  void set_active(unsigned n) noexcept;
  void govern();

  unsigned shards_;
  double rate_;
  std::unique_ptr<embedded_bpf> program_;
  int listeners_map_ = -1;
  int clients_map_ = -1;
  int settings_map_ = -1;
  int sockets_map_ = -1;
  // Bound address -> listener index; fixed once started.
  std::vector<std::pair<protocol::transport_address, std::uint32_t>> listeners_;
  struct alignas(64) counter {
    std::atomic<std::uint64_t> value{0};
  };
  std::unique_ptr<counter[]> received_;
  unsigned active_ = 1;  // the governor's thread only
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::thread governor_;
};

}  // namespace turnpike::server::net
