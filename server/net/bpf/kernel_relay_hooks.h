// SPDX-License-Identifier: Apache-2.0 OR GPL-2.0-only
// The kernel relay's two hooks (kernel_relay.bpf.c): what differs between XDP and TC ingress
// when a function reads the packet or gives a verdict. Every function of the program takes the
// hook's context as `ctx` and `tc` (0: XDP, 1: TC), always a constant, so each program is
// compiled with only its own hook's branches.
#pragma once

#include <linux/bpf.h>
#include <linux/pkt_cls.h>

#include <bpf/bpf_helpers.h>

// A datagram left untouched goes on: at TC to the interface's next program (tcx's "next",
// TC_ACT_UNSPEC), so another program there (another server's kernel relay, say) still sees it.
static __always_inline int pass_verdict(int tc) {
  return tc ? TC_ACT_UNSPEC : XDP_PASS;
}
static __always_inline void* data_of(void* ctx, int tc) {
  return tc ? (void*)(long)((struct __sk_buff*)ctx)->data
            : (void*)(long)((struct xdp_md*)ctx)->data;
}
static __always_inline void* end_of(void* ctx, int tc) {
  return tc ? (void*)(long)((struct __sk_buff*)ctx)->data_end
            : (void*)(long)((struct xdp_md*)ctx)->data_end;
}
static __always_inline __u32 ingress_of(void* ctx, int tc) {
  return tc ? ((struct __sk_buff*)ctx)->ingress_ifindex : ((struct xdp_md*)ctx)->ingress_ifindex;
}
// The frame's length: what the hook sees of it (XDP), or the whole skb (TC, whose head may
// hold only part of it).
static __always_inline __u32 frame_length(void* ctx, int tc, void* data, void* end) {
  return tc ? ((struct __sk_buff*)ctx)->len : (__u32)(end - data);
}
