// SPDX-License-Identifier: Apache-2.0
// sk_lookup program for shard packing (option shard-packing): a UDP datagram to one of the
// server's UDP listeners goes to the listening socket of the shard that holds the client's
// allocation; a client without one goes to one of the first `active` shards (a hash of its
// address and port), `active` being as few as the load needs. The kernel's SO_REUSEPORT hash
// alone would spread clients over every shard, so a burst of light load wakes them all.
// Everything else is left to the kernel's normal socket lookup. Compiled with clang -target
// bpf at build time and embedded in the binary (server/net/shard_packing.cpp loads it).
#include <linux/bpf.h>
#include <linux/in.h>

#include <bpf/bpf_helpers.h>  // after linux/bpf.h, which it needs

#include "sk_lookup_keys.h"

// Keep in step with shard_packing.hpp.
struct client_key {
  __u32 listener;  // index from `listeners`
  __u32 port;      // the client's port as sk_lookup gives it (network byte order, low 16 bits)
  __u32 ip[4];     // the client's IP, network byte order; IPv4 in ip[0]
};

// The listeners' bound addresses -> listener index.
struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, 64);
  __type(key, struct address_key);
  __type(value, __u32);
} listeners SEC(".maps");

// Clients with an allocation -> the shard holding it.
struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(map_flags, BPF_F_NO_PREALLOC);  // kernel memory as clients come, not a million up front
  __uint(max_entries, 1024);             // resized at load time
  __type(key, struct client_key);
  __type(value, __u32);
} clients SEC(".maps");

// [0]: how many shards (the first ones) take new clients; [1]: the number of shards.
struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(max_entries, 2);
  __type(key, __u32);
  __type(value, __u32);
} settings SEC(".maps");

// listener * shards + shard -> that shard's socket for that listener.
struct {
  __uint(type, BPF_MAP_TYPE_SOCKMAP);
  __uint(max_entries, 2);  // resized at load time
  __type(key, __u32);
  __type(value, __u64);
} listen_sockets SEC(".maps");

SEC("sk_lookup")
int client_steer(struct bpf_sk_lookup* ctx) {
  if (ctx->protocol != IPPROTO_UDP) return SK_PASS;
  struct address_key lk = {};
  lk.family = ctx->family;
  lk.port = ctx->local_port;
  local_ip(ctx, lk.ip);
  __u32* listener = bpf_map_lookup_elem(&listeners, &lk);
  if (!listener) {
    lk.ip[0] = lk.ip[1] = lk.ip[2] = lk.ip[3] = 0;
    listener = bpf_map_lookup_elem(&listeners, &lk);
    if (!listener) return SK_PASS;
  }
  struct client_key ck = {};
  ck.listener = *listener;
  ck.port = ctx->remote_port;
  remote_ip(ctx, ck.ip);
  __u32 active_index = 0, shards_index = 1;
  __u32* active = bpf_map_lookup_elem(&settings, &active_index);
  __u32* shards = bpf_map_lookup_elem(&settings, &shards_index);
  if (!active || !shards) return SK_PASS;
  __u32 chosen;
  __u32* pinned = bpf_map_lookup_elem(&clients, &ck);
  if (pinned) {
    chosen = *pinned;
  } else {
    __u32 n = *active;
    if (n == 0 || n >= *shards) return SK_PASS;  // every shard: the kernel's hash spreads them
    __u32 h = (ck.ip[0] ^ ck.ip[1] ^ ck.ip[2] ^ ck.ip[3] ^ (ck.port << 16)) * 0x9E3779B1u;
    h ^= h >> 15;
    chosen = h % n;
  }
  __u32 slot = ck.listener * *shards + chosen;
  struct bpf_sock* sk = bpf_map_lookup_elem(&listen_sockets, &slot);
  if (!sk) return SK_PASS;  // not registered (yet, or any more): the kernel's own choice
  bpf_sk_assign(ctx, sk, BPF_SK_LOOKUP_F_NO_REUSEPORT);
  bpf_sk_release(sk);
  return SK_PASS;
}

char _license[] SEC("license") = "Apache-2.0";  // no GPL-only helper is used
