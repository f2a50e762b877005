// SPDX-License-Identifier: Apache-2.0
// sk_lookup program for the multiplexed relay ports (relay-mux): a UDP datagram to a relayed
// transport address the server has handed out is delivered to the owning shard's relay
// socket, whatever port that socket is bound to. Everything else is left to the kernel's
// normal socket lookup. Compiled with clang -target bpf at build time and embedded in the
// binary (server/net/relay_mux.cpp loads it).
#include <linux/bpf.h>
#include <linux/in.h>
#include <bpf/bpf_helpers.h>

#include "sk_lookup_keys.h"

// Relayed address -> index of the socket in relay_sockets that owns it.
struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, 65536);  // resized at load time
  __type(key, struct address_key);
  __type(value, __u32);
} relay_ports SEC(".maps");

// Two per shard: [2 * shard] IPv4, [2 * shard + 1] IPv6.
struct {
  __uint(type, BPF_MAP_TYPE_SOCKMAP);
  __uint(max_entries, 2);  // resized at load time
  __type(key, __u32);
  __type(value, __u64);
} relay_sockets SEC(".maps");

SEC("sk_lookup")
int relay_steer(struct bpf_sk_lookup* ctx) {
  if (ctx->protocol != IPPROTO_UDP) return SK_PASS;
  struct address_key key = {};
  key.family = ctx->family;
  key.port = ctx->local_port;
  local_ip(ctx, key.ip);
  __u32* slot = bpf_map_lookup_elem(&relay_ports, &key);
  if (!slot) return SK_PASS;
  struct bpf_sock* sk = bpf_map_lookup_elem(&relay_sockets, slot);
  if (!sk) return SK_DROP;  // ours, but the shard's socket is gone (stopping)
  long err = bpf_sk_assign(ctx, sk, 0);
  bpf_sk_release(sk);
  return err == 0 ? SK_PASS : SK_DROP;
}

char _license[] SEC("license") = "Apache-2.0";  // no GPL-only helper is used
