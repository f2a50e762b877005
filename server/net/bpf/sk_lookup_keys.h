// SPDX-License-Identifier: Apache-2.0
// What the sk_lookup programs share: the key of a transport address (keep in step with
// server/net/sk_lookup_program.hpp's address_key) and reading the datagram's addresses.
#pragma once

#include <linux/bpf.h>

#include <bpf/bpf_helpers.h>  // after linux/bpf.h, which it needs

#define AF_INET 2

struct address_key {
  __u32 family;  // AF_INET or AF_INET6
  __u32 port;    // host byte order
  __u32 ip[4];   // network byte order; IPv4 in ip[0]; all zero for a wildcard
};

// The datagram's destination IP, into `ip` (IPv4 in ip[0], the rest left as they are).
static __always_inline void local_ip(const struct bpf_sk_lookup* ctx, __u32 ip[4]) {
  if (ctx->family == AF_INET) {
    ip[0] = ctx->local_ip4;
  } else {
    ip[0] = ctx->local_ip6[0];
    ip[1] = ctx->local_ip6[1];
    ip[2] = ctx->local_ip6[2];
    ip[3] = ctx->local_ip6[3];
  }
}

// The datagram's source IP, the same way.
static __always_inline void remote_ip(const struct bpf_sk_lookup* ctx, __u32 ip[4]) {
  if (ctx->family == AF_INET) {
    ip[0] = ctx->remote_ip4;
  } else {
    ip[0] = ctx->remote_ip6[0];
    ip[1] = ctx->remote_ip6[1];
    ip[2] = ctx->remote_ip6[2];
    ip[3] = ctx->remote_ip6[3];
  }
}
