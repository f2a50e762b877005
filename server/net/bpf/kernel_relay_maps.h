// SPDX-License-Identifier: Apache-2.0
// The maps of the kernel relay (kernel_relay.bpf.c), shared with user space
// (server/net/relays/kernel_relays.cpp): plain C, fixed-size fields, no implicit padding.
// Addresses and ports are kept as they travel in packets (network byte order); IPv4
// addresses in ip[0] with the other words zero.
#pragma once

#ifdef __cplusplus
#include <cstdint>
namespace turnpike::server::net::kernel {
using u16 = std::uint16_t;
using u32 = std::uint32_t;
using u64 = std::uint64_t;
#else
typedef __u16 u16;
typedef __u32 u32;
typedef __u64 u64;
#endif

#define TURNPIKE_KR_FAMILY_V4 4
#define TURNPIKE_KR_FAMILY_V6 6

// Client to peer: a ChannelData datagram from `client` to our listening address `server`.
struct kr_channel_key {
  u32 client_ip[4];
  u32 server_ip[4];
  u16 client_port;
  u16 server_port;
  u16 channel;  // host byte order
  u16 family;   // TURNPIKE_KR_FAMILY_V4 or _V6
};

// Peer to client: a datagram from `peer` to the relayed address `relay`.
struct kr_peer_key {
  u32 peer_ip[4];
  u32 relay_ip[4];
  u16 peer_port;
  u16 relay_port;
  u16 family;
  u16 unused;  // zero
};

// Both directions of one bound channel: what each key above leads to.
struct kr_route {
  u32 client_ip[4];
  u32 server_ip[4];
  u32 relay_ip[4];
  u32 peer_ip[4];
  u16 client_port;
  u16 server_port;
  u16 relay_port;
  u16 peer_port;
  u16 channel;  // host byte order
  u16 family;
  u32 counter;  // index into kr_counters
  // CLOCK_MONOTONIC (bpf_ktime_get_ns); at or after it the program leaves the datagram to user
  // space, whatever the map still holds.
  u64 expires_ns;
};

// Per allocation (index `counter`), per CPU: what the kernel relayed. Bytes are application
// data, without the 4-byte ChannelData header, as user space counts them.
struct kr_counter {
  u64 to_peer_packets;
  u64 to_peer_bytes;
  u64 to_client_packets;
  u64 to_client_bytes;
};

// One of the machine's own addresses (kr_local's key; the value is unused): a datagram to it
// goes up the stack once rewritten, without a FIB lookup (which needs forwarding on).
struct kr_local_key {
  u32 ip[4];
  u32 family;
};

// Why a datagram went to user space, or that the kernel relayed it: kr_outcomes' index.
enum kr_outcome {
  KR_RELAYED_TO_PEER = 0,
  KR_RELAYED_TO_CLIENT = 1,
  KR_NOT_OURS = 2,        // no entry: STUN, other ports, peers without a channel, ...
  KR_NOT_HANDLED = 3,     // IP options, extension headers, fragments, VLAN, padding, ...
  KR_EXPIRED = 4,         // an entry past its expiry
  KR_NO_ROUTE = 5,        // the FIB has no answer (neighbour unresolved, blackhole, ...)
  KR_TOO_BIG = 6,         // larger than the egress MTU once rewritten
  KR_FORWARDING_OFF = 7,  // a remote destination, and forwarding is off on the interface
  KR_OUTCOMES = 8,
};

#ifdef __cplusplus
}  // namespace turnpike::server::net::kernel
#endif
