// SPDX-License-Identifier: Apache-2.0
// The sans-IO engine of one shard. Inputs: client packets (a five-tuple and the bytes of one
// datagram or stream frame), peer packets (a relay id, the peer and the bytes), and time.
// Outputs: through the injected client_sink (to clients) and relay_io (relay sockets, to
// peers). No sockets, no clock of its own, no allocation on the data path. It answers STUN
// Binding (RFC 8489 section 10, RFC 5780 section 6) and serves TURN (RFC 8656): Allocate,
// Refresh, CreatePermission, ChannelBind, Send/Data, ChannelData over UDP relays, and
// Connect/ConnectionAttempt/ConnectionBind over TCP relays (RFC 6062).
#pragma once

#include <array>
#include <functional>
#include <memory>
#include <optional>
#include <queue>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "auth/key_source.hpp"
#include "auth/quota.hpp"
#include "auth/realm_options.hpp"
#include "protocol/message.hpp"
#include "server/engine/allocation.hpp"
#include "server/engine/challenge_budget.hpp"
#include "server/engine/kernel_channels.hpp"
#include "server/engine/kernel_io.hpp"
#include "server/engine/nonce.hpp"
#include "server/engine/peer_policy.hpp"
#include "server/engine/relay_io.hpp"
#include "server/engine/sessions.hpp"
#include "server/engine/store_io.hpp"
#include "server/engine/types.hpp"

namespace turnpike::server::engine {

struct five_tuple_hash {
  std::size_t operator()(const five_tuple& t) const noexcept;
};

struct turn_settings {
  std::string realm;
  // Every request signed with a user's long-term key, asked of store_io::find_key; false:
  // no-auth (anonymous relaying).
  bool long_term_credentials = false;
  bool quota = false;                       // Allocate asks store_io::acquire_quota
  allocation_observer* observer = nullptr;  // redis-statsdb; nullptr: none
  std::optional<nonce_codec> nonce;         // required with keys
  peer_policy_options peers;
  std::chrono::seconds default_lifetime{600};
  std::chrono::seconds max_lifetime{3600};
  std::chrono::seconds permission_lifetime{300};
  std::chrono::seconds channel_lifetime{600};
  std::uint16_t channel_max = 0x7FFF;  // 0x4FFF with rfc8656-channel-numbers
  bool udp_relay = true;               // false with no-udp-relay
  bool tcp_relay = false;              // RFC 6062 TCP relays (the network layer must offer them)
  // Relay family when the Allocate names none; nullopt: the family the client came over.
  std::optional<protocol::address_family> default_family = protocol::address_family::ipv4;
  // alternate-server, by the transport the client came over (index: transport): every new
  // Allocate is answered 300 Try Alternate with the next address of the family the client
  // reached us on, round robin; none when the address it reached is in the list itself.
  std::array<std::vector<protocol::transport_address>, 4> alternate_servers;
  // external-ip: relay IP as bound -> IP advertised in XOR-RELAYED-ADDRESS.
  std::vector<std::pair<protocol::transport_address, protocol::transport_address>> external_ips;
  std::uint64_t max_bps = 0;  // per allocation, both directions together; 0 = unlimited
  // This shard's share of bps-capacity (all relayed traffic together); 0 = unlimited.
  std::uint64_t capacity_bps = 0;
  std::size_t max_permissions = 64;
  std::size_t max_channels = 64;
  unsigned unauthenticated_per_second = 20;  // 401 answers per source IP and second
  // ... to a source IP that sent a correctly signed request in the last `proven_for`.
  unsigned unauthenticated_per_second_proven = 1000;
  std::chrono::seconds proven_for{600};
  // Failed authentications per user name and second before that user's new attempts (not
  // requests on its existing allocations) are dropped unchecked for the rest of the second.
  unsigned failed_auth_per_user = 10;
};

struct engine_settings {
  bool answer_binding = true;          // false with no-stun
  bool fingerprint_always = false;     // coturn's `fingerprint`
  bool backward_compatibility = true;  // answer RFC 3489 clients (MAPPED-ADDRESS)
  bool include_reason = false;         // reason phrases in ERROR-CODE
  std::string software;                // SOFTWARE value; empty: not sent
  bool log_binding = false;
  // RFC 5780: present when the server has a second IP of the same family for each listening
  // IP (other_ip pairs primary -> other) and a second port.
  struct rfc5780_addresses {
    std::vector<std::pair<protocol::transport_address, protocol::transport_address>> other_ip;
    std::uint16_t port = 0;
    std::uint16_t alt_port = 0;
  };
  std::optional<rfc5780_addresses> rfc5780;
  std::optional<turn_settings> turn;  // absent: STUN only (TURN requests get 400)
  // Where the engine's randomness comes from (nonce secrets when none is configured, RFC 6062
  // connection ids, ConnectionAttempt transaction ids): required with turn. The server gives
  // a cryptographic source; tests and the fuzzer a reproducible one.
  std::function<void(std::span<std::uint8_t>)> random;
};

class engine {
 public:
  // `relays` may be null when settings.turn is absent; `stores` when it asks for neither
  // long-term credentials nor quotas. Throws std::invalid_argument when one that the settings
  // need is missing.
  // `kernel`: the kernel data path (kernel-relay), or null.
  engine(engine_settings settings, client_sink& sink, relay_io* relays = nullptr,
         store_io* stores = nullptr, kernel_io* kernel = nullptr);
  ~engine();
  engine(const engine&) = delete;
  engine& operator=(const engine&) = delete;

  // One datagram (UDP) or one complete frame from protocol::next_frame (streams).
  void on_packet(const five_tuple& path, protocol::byte_span bytes, const instant& now) noexcept;
  // A datagram that arrived on relay socket `relay` from `peer`.
  void on_peer_packet(relay_id relay, const protocol::transport_address& peer,
                      protocol::byte_span bytes, const instant& now) noexcept;
  // When on_timer should next be called (clock::time_point::max() when nothing is pending).
  clock::time_point next_deadline() const noexcept;
  void on_timer(const instant& now) noexcept;
  // The answer to store_io::find_key(ask, ...), and when it arrived.
  void on_key_answer(ask_id ask, const auth::lookup_result& result, const instant& now) noexcept;
  // The answer to store_io::acquire_quota(lease, ...), and when it arrived.
  void on_quota_answer(std::uint64_t lease, auth::quota_verdict verdict,
                       const instant& now) noexcept;
  // RFC 6062: the outcome of relay_io::connect_peer.
  void on_peer_connected(std::uint32_t connection_id, bool ok) noexcept;
  // RFC 6062: a peer connected to TCP relay `relay`. With a permission for it, `hold` is
  // called with a new connection id and the credentials a ConnectionBind must carry; only
  // when it has kept the connection (true) is the client told (ConnectionAttempt), so a
  // ConnectionBind arriving on another shard at once finds it. False: close the connection.
  using connection_holder = std::function<bool(std::uint32_t, tcp_connection_credentials)>;
  bool on_peer_tcp_connection(relay_id relay, const protocol::transport_address& peer,
                              const instant& now, const connection_holder& hold) noexcept;
  // The client's stream closed: its allocations go (RFC 8656 section 2.2).
  void on_stream_closed(const five_tuple& path) noexcept;
  // Ends every allocation (shutdown).
  void close_all() noexcept;

  // Realm options read from Redis: max-bps replaces the configured one (absent: back to it),
  // the IP ranges are added to the configured allowed-/denied-peer-ip. New permissions and
  // Send indications meet the new lists at once; installed permissions and channels run until
  // they expire.
  void set_realm_options(const auth::realm_options& r);
  // Draining: new allocations are refused (300 with ALTERNATE-SERVER: `alternate` when given,
  // else the next of alternate_servers; 508 without either); existing ones keep relaying and
  // may be refreshed.
  void set_draining(std::optional<protocol::transport_address> alternate);

  // The sessions API (sessions.cpp): the allocations `filter` matches, and ending them at once
  // (relays closed, quota given back; the client's next request meets 437).
  std::vector<session_info> sessions(const session_filter& filter, const instant& now) const;
  std::size_t end_sessions(const session_filter& filter) noexcept;

  const engine_counters& counters() const noexcept { return counters_; }
  // Allocations, permissions and channels now (walks every allocation: for a scrape).
  engine_gauges gauges() const noexcept;
  std::size_t allocation_count() const noexcept { return allocations_.size(); }

 private:
  struct request_auth;  // the outcome of authenticating one request

  // STUN
  void on_binding(const five_tuple& path, const protocol::message_view& req) noexcept;
  void on_classic_binding(const five_tuple& path, protocol::byte_span bytes) noexcept;
  std::optional<protocol::transport_address> other_address(
      const protocol::transport_address& local) const noexcept;
  std::optional<protocol::transport_address> other_ip(
      const protocol::transport_address& local) const noexcept;

  // TURN (turn.cpp)
  void on_turn_request(const five_tuple& path, const protocol::message_view& req,
                       const instant& now) noexcept;
  void on_allocate(const five_tuple& path, const protocol::message_view& req,
                   const request_auth& auth, const instant& now) noexcept;
  // The part of Allocate after the quota granted `lease` (0: no quota in force).
  void finish_allocate(const five_tuple& path, const protocol::message_view& req,
                       const request_auth& auth, const relay_request& rr, bool dual,
                       std::uint64_t lease, const instant& now) noexcept;
  void on_refresh(allocation& a, const protocol::message_view& req, const request_auth& auth,
                  const instant& now) noexcept;
  void on_create_permission(allocation& a, const protocol::message_view& req,
                            const request_auth& auth, const instant& now) noexcept;
  void on_channel_bind(allocation& a, const protocol::message_view& req, const request_auth& auth,
                       const instant& now) noexcept;
  void on_connect(allocation& a, const protocol::message_view& req, const request_auth& auth,
                  const instant& now) noexcept;
  void on_connection_bind(const five_tuple& path, const protocol::message_view& req,
                          const instant& now) noexcept;
  std::uint32_t new_connection_id() noexcept;
  void on_send_indication(const five_tuple& path, const protocol::message_view& ind,
                          const instant& now) noexcept;
  void on_channel_data(const five_tuple& path, protocol::byte_span bytes,
                       const instant& now) noexcept;
  std::optional<protocol::transport_address> checked_peer(const allocation& a,
                                                          const protocol::message_view& req,
                                                          protocol::byte_span value, bool with_port,
                                                          const request_auth& auth) noexcept;
  void send_allocate_success(allocation& a, const protocol::message_view& req,
                             const request_auth& auth) noexcept;
  void remove_allocation(const five_tuple& key) noexcept;
  // kernel-relay: whether `a` may be relayed in the kernel, and its routes brought in step.
  bool kernel_eligible(const allocation& a) const noexcept;
  void sync_kernel(allocation& a) noexcept;
  void schedule(allocation& a, clock::time_point when) noexcept;
  bool spend(allocation& a, std::size_t bytes, const instant& now) noexcept;
  protocol::transport_address advertised(const protocol::transport_address& relay) const noexcept;

  // Authentication (auth_check.cpp). On success calls dispatch_authenticated, possibly later
  // (when the key source answers asynchronously).
  void authenticate(const five_tuple& path, const protocol::message_view& req, const instant& now,
                    allocation* existing) noexcept;
  void dispatch_authenticated(const five_tuple& path, const protocol::message_view& req,
                              const request_auth& auth, const instant& now) noexcept;
  bool verify_with(const protocol::message_view& req, const auth::credential& key,
                   bool sha256_key) const noexcept;
  void send_unauthenticated(const five_tuple& path, const protocol::message_view& req, int code,
                            const instant& now) noexcept;

  // Answers
  void count_response(protocol::byte_span msg) noexcept;
  void count_auth_failure(auth_failure why) noexcept;
  // The reason phrase for `code` when include-reason-string is on, else empty.
  std::string_view reason(int code) const noexcept;
  void send_error(const five_tuple& path, const protocol::message_view& req, int code,
                  std::span<const std::uint16_t> unknown = {},
                  const request_auth* auth = nullptr) noexcept;
  // Adds SOFTWARE, MESSAGE-INTEGRITY(-SHA256) as `auth` says, FINGERPRINT when the request had
  // one (or always), and sends.
  void finish_and_send(const five_tuple& path, class protocol::message_builder& b,
                       const protocol::message_view& req, const request_auth* auth) noexcept {
    finish_and_send(path, b, req.fingerprint().has_value(), auth);
  }
  void finish_and_send(const five_tuple& path, class protocol::message_builder& b,
                       bool request_had_fingerprint, const request_auth* auth) noexcept;

  engine_settings settings_;
  client_sink& sink_;
  relay_io* relays_;
  store_io* stores_;
  std::optional<peer_policy> policy_;
  kernel_channels kernel_;
  engine_counters counters_;
  std::unordered_map<five_tuple, allocation, five_tuple_hash> allocations_;
  std::unordered_map<relay_id, five_tuple> by_relay_;
  std::unordered_map<std::uint32_t, five_tuple> connecting_;  // RFC 6062 Connects under way
  // Requests waiting for their key (store_io::find_key), by ask id: a copy of the request,
  // since the answer may come after its datagram is gone.
  struct key_wait {
    five_tuple path;
    std::vector<std::uint8_t> request;
    bool key_is_sha256 = false;
    bool mi256 = false;
  };
  std::unordered_map<ask_id, key_wait> key_waits_;
  ask_id next_ask_ = 1;
  // Allocates waiting for their quota answer, by lease; and the lease each five-tuple waits
  // for (their retransmissions are dropped meanwhile; a closed stream's entry goes, and a
  // quota granted after that is given back).
  struct quota_wait {
    five_tuple path;
    std::vector<std::uint8_t> request;
    std::string user;
    bool authenticated = false;  // how the answer is signed (request_auth without the view)
    auth::credential key;
    bool key_is_sha256 = false;
    bool mi256 = false;
    relay_request relays;
    bool dual = false;
  };
  std::unordered_map<std::uint64_t, quota_wait> quota_waits_;
  std::unordered_map<five_tuple, std::uint64_t, five_tuple_hash> pending_allocates_;
  std::uint64_t next_lease_ = 1;
  using deadline = std::pair<clock::time_point, relay_id>;
  std::priority_queue<deadline, std::vector<deadline>, std::greater<>> deadlines_;
  // Per-source 401/438 budget, larger for sources that have signed a request.
  std::optional<challenge_budget> challenges_;
  // Per-user failure budget: the same shape, keyed by a hash of the user name.
  struct user_budget {
    std::uint64_t user = 0;
    std::int64_t second = 0;
    unsigned failed = 0;
  };
  std::array<user_budget, 256> user_budget_{};
  bool user_throttled(std::string_view username, const instant& now) noexcept;
  void user_failed(std::string_view username, const instant& now) noexcept;
  double capacity_tokens_ = 0;
  // As configured, before realm options from Redis.
  peer_policy_options configured_peers_;
  bool draining_ = false;
  std::optional<protocol::transport_address> alternate_;
  std::array<std::size_t, 4> next_alternate_{};  // round robin over alternate_servers
  // Where a new Allocate on `path` is sent instead (300), if anywhere.
  std::optional<protocol::transport_address> redirect_for(const five_tuple& path) noexcept;
  std::uint64_t configured_max_bps_ = 0;
  clock::time_point capacity_refilled_{};
  // Responses and relayed data are built here: large enough for a 64 KiB peer datagram
  // wrapped in a Data indication.
  std::unique_ptr<std::array<std::uint8_t, 65536 + 128>> out_;
};

}  // namespace turnpike::server::engine
