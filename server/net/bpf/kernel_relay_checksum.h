// SPDX-License-Identifier: Apache-2.0 OR GPL-2.0-only
// Checksum arithmetic for the kernel relay (kernel_relay.bpf.c): one's complement sums over
// 16-bit words as they lie in the packet (RFC 1071, updated incrementally as RFC 1624 says),
// the UDP pseudo-header's sum, and a fresh IPv4 header checksum.
#pragma once

#include <linux/bpf.h>
#include <linux/in.h>
#include <linux/ip.h>

#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

static __always_inline __u32 add16(__u32 sum, __u16 word) {
  return sum + word;
}
static __always_inline __u32 sub16(__u32 sum, __u16 word) {
  return sum + (__u16)~word;
}
static __always_inline __u32 add_ip(__u32 sum, const __u32* ip, int words32) {
#pragma unroll
  for (int i = 0; i < 4; ++i) {
    if (i < words32) sum += (ip[i] & 0xFFFF) + (ip[i] >> 16);
  }
  return sum;
}
static __always_inline __u32 sub_ip(__u32 sum, const __u32* ip, int words32) {
#pragma unroll
  for (int i = 0; i < 4; ++i) {
    if (i < words32) sum += (__u16) ~(ip[i] & 0xFFFF) + (__u16) ~(ip[i] >> 16);
  }
  return sum;
}
static __always_inline __u16 fold(__u32 sum) {
  sum = (sum & 0xFFFF) + (sum >> 16);
  sum = (sum & 0xFFFF) + (sum >> 16);
  return (__u16)sum;
}

// The UDP pseudo-header's sum, folded: what a sender that leaves the checksum to be completed
// (CHECKSUM_PARTIAL) puts in the checksum field.
static __always_inline __u16 pseudo_sum(const __u32* src, const __u32* dst, __u16 udp_len_net,
                                        int words32) {
  __u32 sum = add_ip(0, src, words32);
  sum = add_ip(sum, dst, words32);
  sum = add16(sum, bpf_htons(IPPROTO_UDP));
  return fold(add16(sum, udp_len_net));
}

static __always_inline void ipv4_checksum(struct iphdr* ip) {
  ip->check = 0;
  const __u16* w = (const __u16*)ip;
  __u32 sum = 0;
#pragma unroll
  for (int i = 0; i < 10; ++i) sum += w[i];
  ip->check = (__u16)~fold(sum);
}
