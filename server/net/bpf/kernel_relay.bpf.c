// SPDX-License-Identifier: Apache-2.0 OR GPL-2.0-only
// The kernel relay (kernel-relay): one program, built for two hooks (XDP and TC ingress),
// that relays bound channels of UDP clients on UDP relays without waking a shard.
//   client -> peer: a ChannelData datagram from a client to our listening address, on a
//     channel the engine installed: the 4-byte header stripped, sent relayed address -> peer.
//   peer -> client: a datagram from a channel's peer to its relayed address: the header
//     prepended, sent listening address -> client.
//   client -> client: when the peer is itself a relayed address of ours with a channel back
//     (two clients of this server relaying to each other, as relay-only calls do), both legs
//     at once: the channel number swapped, sent listening address -> the other client.
// Anything else leaves untouched for user space, which answers it as it always has: other
// traffic, STUN, ChannelData with padding or a length that does not match the datagram,
// fragments, IP options, IPv6 extension headers, VLAN tags, coalesced (GRO) packets, an entry
// past its expiry (the kernel's clock decides, so a stalled shard cannot extend a channel), a
// destination the FIB cannot resolve, a datagram larger than the egress MTU once rewritten,
// and a datagram whose checksum is still to be completed (CHECKSUM_PARTIAL: sent by a process
// of this machine, or merged by GRO) at XDP, or at TC when it would leave the machine.
// Sent packets: IPv4 with DF and TTL 64, IPv6 with hop limit 64; UDP checksums updated
// incrementally (RFC 1624), so a checksum that was wrong stays wrong. A local destination
// (loopback, the addresses in kr_local) goes up the stack; another is sent from the interface
// the FIB names (XDP_TX, or a redirect to its egress). The kernel answers FIB lookups only on
// interfaces with forwarding on (net.ipv4.conf.IF.forwarding, net.ipv6.conf.IF.forwarding);
// elsewhere remote destinations stay with user space.
// Compiled with clang -target bpf at build time and embedded in the binary
// (server/net/relays/kernel_relays.cpp loads it and attaches one of the two programs).
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/pkt_cls.h>
#include <linux/udp.h>

#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "kernel_relay_checksum.h"
#include "kernel_relay_hooks.h"
#include "kernel_relay_maps.h"

#define AF_INET 2
#define AF_INET6 10
#define KR_TTL 64
#define IP_DF 0x4000
#define IP_FRAGMENTS 0x3FFF  // MF and the fragment offset

struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, 65536);  // resized at load time
  __type(key, struct kr_channel_key);
  __type(value, struct kr_route);
} kr_channels SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, 65536);  // resized at load time
  __type(key, struct kr_peer_key);
  __type(value, struct kr_route);
} kr_peers SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, 65536);  // resized at load time
  __type(key, __u32);
  __type(value, struct kr_counter);
} kr_counters SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, 1024);
  __type(key, struct kr_local_key);
  __type(value, __u8);
} kr_local SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, KR_OUTCOMES);
  __type(key, __u32);
  __type(value, __u64);
} kr_outcomes SEC(".maps");

// The headers as copied to the stack: two bytes first so that the IP header is 4-aligned,
// then the ChannelData header that follows UDP's (as received, or as it will be written).
// HEADERS4/HEADERS6 bytes from `eth` on are the Ethernet, IP and UDP headers.
struct headers4 {
  __u16 align;
  struct ethhdr eth;
  struct iphdr ip;
  struct udphdr udp;
  __u16 cd[2];
};
#define HEADERS4 (sizeof(struct ethhdr) + sizeof(struct iphdr) + sizeof(struct udphdr))

struct headers6 {
  __u16 align;
  struct ethhdr eth;
  struct ipv6hdr ip;
  struct udphdr udp;
  __u16 cd[2];
};
#define HEADERS6 (sizeof(struct ethhdr) + sizeof(struct ipv6hdr) + sizeof(struct udphdr))

static __always_inline int outcome(int verdict, __u32 which) {
  __u64* n = bpf_map_lookup_elem(&kr_outcomes, &which);
  if (n) *n += 1;
  return verdict;
}

static __always_inline void count(const struct kr_route* r, int to_peer, __u64 bytes) {
  __u32 slot = r->counter;
  struct kr_counter* c = bpf_map_lookup_elem(&kr_counters, &slot);
  if (!c) return;
  if (to_peer) {
    c->to_peer_packets += 1;
    c->to_peer_bytes += bytes;
  } else {
    c->to_client_packets += 1;
    c->to_client_bytes += bytes;
  }
}

// Whether a datagram whose checksum `looks` like the pseudo-header's sum alone has it still
// to be completed (CHECKSUM_PARTIAL), rather than a complete one that happens to be equal (1
// in 65 536). TC can rule it out where the skb says its checksum was checked
// (CHECKSUM_UNNECESSARY, as most NICs deliver); XDP cannot ask.
static __always_inline int to_complete(void* ctx, int tc, int looks) {
  if (!looks || !tc) return looks;
  return bpf_csum_level(ctx, BPF_CSUM_LEVEL_QUERY) < 0;
}

// What a datagram is to the kernel relay once its route is found. `strip`: it carries a
// ChannelData header (in_cd) that goes; `add`: a header (out_cd) goes in front of what is
// sent. To the peer: strip. To the client: add. Client to client: both.
struct relay_job {
  const struct kr_route* r;   // the route the datagram matched
  const struct kr_route* r2;  // client to client: the other client's route back
  int strip;
  int add;
  __u16 in_cd[2];
  __u16 out_cd[2];
  __u16 data_len;
};

// The UDP checksum of a datagram rewritten from (`old_src`, `old_dst`, `old`'s ports and
// length) to (`src`, `dst`, `sport`, `dport`, `udp_len`), with the job's ChannelData headers
// taken out and put in. `words32`: 1 for IPv4 addresses, 4 for IPv6.
// A checksum that holds the pseudo-header's sum only (`partial`: the skb says where its
// sender's offload would complete it) is rewritten as such when the UDP header stays where it
// was or moves back (to the client, client to client): the stack leaves it unchecked. A header
// that moves forward (to the peer: the ChannelData header goes) would leave that place behind
// the new header, and the stack would check the checksum that was never computed: IPv4 then
// carries none (0, allowed there; the datagram never leaves the machine), and IPv6, where a
// checksum is mandatory, is left to user space before this (rewrite6).
static __always_inline __u16 rewritten_check(const struct udphdr* old, const __u32* old_src,
                                             const __u32* old_dst, const __u32* src,
                                             const __u32* dst, __u16 sport, __u16 dport,
                                             __u16 udp_len, const struct relay_job* job,
                                             int partial, int words32) {
  if (partial && !job->add) return 0;
  if (partial) return pseudo_sum(src, dst, bpf_htons(udp_len), words32);
  __u32 sum = (__u16)~old->check;
  sum = sub_ip(sum, old_src, words32);
  sum = sub_ip(sum, old_dst, words32);
  sum = sub16(sum, old->len);  // the pseudo-header's length
  sum = sub16(sum, old->source);
  sum = sub16(sum, old->dest);
  sum = sub16(sum, old->len);
  sum = add_ip(sum, src, words32);
  sum = add_ip(sum, dst, words32);
  sum = add16(sum, bpf_htons(udp_len));
  sum = add16(sum, sport);
  sum = add16(sum, dport);
  sum = add16(sum, bpf_htons(udp_len));
  if (job->strip) {
    sum = sub16(sum, job->in_cd[0]);
    sum = sub16(sum, job->in_cd[1]);
  }
  if (job->add) {
    sum = add16(sum, job->out_cd[0]);
    sum = add16(sum, job->out_cd[1]);
  }
  const __u16 check = (__u16)~fold(sum);
  return check ? check : 0xFFFF;  // 0 means "no checksum" in UDP
}

static __always_inline int local(int v6, const __u32* dst) {
  if (!v6 && (bpf_ntohl(dst[0]) >> 24) == 127) return 1;
  if (v6 && dst[0] == 0 && dst[1] == 0 && dst[2] == 0 && dst[3] == bpf_htonl(1)) return 1;
  struct kr_local_key key = {};
  key.family = v6 ? TURNPIKE_KR_FAMILY_V6 : TURNPIKE_KR_FAMILY_V4;
#pragma unroll
  for (int i = 0; i < 4; ++i) {
    if (i == 0 || v6) key.ip[i] = dst[i];
  }
  return bpf_map_lookup_elem(&kr_local, &key) != 0;
}

// Where a datagram from `src` to `dst` goes: 1 out of fib->ifindex (MACs in fib), 0 up the
// stack (a local destination), -1 to user space untouched (the outcome counted).
// A datagram whose checksum is still to be completed (`partial`: its sender is a process of
// this machine, or GRO merged it) goes to user space from XDP, which cannot tell one datagram
// from several that a sender batched (UDP_SEGMENT) or GRO merged, nor keep the checksum's
// state on the way out. TC can tell (gso_size) and relays a single one to a local
// destination, where its checksum is never completed or checked; not off the machine, whose
// offload would complete it at the place the header no longer is.
static __always_inline int route(void* ctx, int tc, struct bpf_fib_lookup* fib, int v6,
                                 const __u32* src, const __u32* dst, __u16 sport, __u16 dport,
                                 __u16 tot_len, __u8 tos, int partial) {
  __builtin_memset(fib, 0, sizeof(*fib));
  if (partial && !tc) {
    outcome(0, KR_NOT_HANDLED);
    return -1;
  }
  if (local(v6, dst)) return 0;
  if (partial) {
    outcome(0, KR_NOT_HANDLED);
    return -1;
  }
  fib->family = v6 ? AF_INET6 : AF_INET;
  fib->l4_protocol = IPPROTO_UDP;
  fib->sport = sport;
  fib->dport = dport;
  fib->tot_len = tot_len;
  fib->ifindex = ingress_of(ctx, tc);
  if (v6) {
#pragma unroll
    for (int i = 0; i < 4; ++i) {
      fib->ipv6_src[i] = src[i];
      fib->ipv6_dst[i] = dst[i];
    }
  } else {
    fib->tos = tos;
    fib->ipv4_src = src[0];
    fib->ipv4_dst = dst[0];
  }
  const long rc = bpf_fib_lookup(ctx, fib, sizeof(*fib), 0);
  if (rc == BPF_FIB_LKUP_RET_SUCCESS) return 1;
  if (rc == BPF_FIB_LKUP_RET_NOT_FWDED) return 0;
  if (rc == BPF_FIB_LKUP_RET_FRAG_NEEDED) {
    outcome(0, KR_TOO_BIG);
  } else if (rc == BPF_FIB_LKUP_RET_FWD_DISABLED) {
    outcome(0, KR_FORWARDING_OFF);
  } else {
    outcome(0, KR_NO_ROUTE);
  }
  return -1;
}

static __always_inline int send(void* ctx, int tc, int forward, const struct bpf_fib_lookup* fib) {
  if (!forward) return tc ? TC_ACT_OK : XDP_PASS;  // up the stack, rewritten
  if (!tc && fib->ifindex == ingress_of(ctx, tc)) return XDP_TX;
  return (int)bpf_redirect(fib->ifindex, 0);
}

static __always_inline void set_macs(struct ethhdr* eth, int forward,
                                     const struct bpf_fib_lookup* fib) {
  if (!forward) return;
  __builtin_memcpy(eth->h_source, fib->smac, ETH_ALEN);
  __builtin_memcpy(eth->h_dest, fib->dmac, ETH_ALEN);
}

static __always_inline int expired(const struct kr_route* r) {
  return bpf_ktime_get_ns() >= r->expires_ns;
}

// The peer key of a datagram from (`ip`, `port`) to (`to_ip`, `to_port`).
static __always_inline void peer_key(struct kr_peer_key* key, const __u32* ip, const __u32* to_ip,
                                     __u16 port, __u16 to_port, int v6) {
  __builtin_memcpy(key->peer_ip, ip, v6 ? 16 : 4);
  __builtin_memcpy(key->relay_ip, to_ip, v6 ? 16 : 4);
  key->peer_port = port;
  key->relay_port = to_port;
  key->family = v6 ? TURNPIKE_KR_FAMILY_V6 : TURNPIKE_KR_FAMILY_V4;
}

// Finds the route of a UDP datagram from (`src`, `sport`) to (`dst`, `dport`) whose payload
// starts at `payload`, into `job`; when there is none (job->r null), returns the verdict with
// its outcome counted. ChannelData must fill the datagram exactly; data from a peer may be at
// most `max_data` bytes (the largest datagram once the header is added).
static __always_inline int find_route(int tc, struct relay_job* job, const __u32* src,
                                      const __u32* dst, int v6, __u16 sport, __u16 dport,
                                      __u16 udp_len, __u16 max_data, __u8* payload, void* end) {
  job->r = 0;
  job->r2 = 0;
  if (udp_len >= 12 && (void*)(payload + 4) <= end && (payload[0] & 0xC0) == 0x40) {
    struct kr_channel_key key = {};
    __builtin_memcpy(key.client_ip, src, v6 ? 16 : 4);
    __builtin_memcpy(key.server_ip, dst, v6 ? 16 : 4);
    key.client_port = sport;
    key.server_port = dport;
    job->in_cd[0] = *(__u16*)payload;
    job->in_cd[1] = *(__u16*)(payload + 2);
    key.channel = bpf_ntohs(job->in_cd[0]);
    key.family = v6 ? TURNPIKE_KR_FAMILY_V6 : TURNPIKE_KR_FAMILY_V4;
    job->r = bpf_map_lookup_elem(&kr_channels, &key);
    if (job->r) {
      job->strip = 1;
      job->add = 0;
      job->data_len = bpf_ntohs(job->in_cd[1]);
      if (job->data_len != udp_len - 12) {
        job->r = 0;  // padded, or a length that lies: user space decides
        return outcome(pass_verdict(tc), KR_NOT_HANDLED);
      }
      // Is the peer a relayed address of ours with a channel back to this relay?
      struct kr_peer_key back = {};
      peer_key(&back, job->r->relay_ip, job->r->peer_ip, job->r->relay_port, job->r->peer_port, v6);
      job->r2 = bpf_map_lookup_elem(&kr_peers, &back);
      if (job->r2 && !expired(job->r2)) {
        job->add = 1;
        job->out_cd[0] = bpf_htons(job->r2->channel);
        job->out_cd[1] = job->in_cd[1];
      } else {
        job->r2 = 0;
      }
      return pass_verdict(tc);
    }
  }
  struct kr_peer_key key = {};
  peer_key(&key, src, dst, sport, dport, v6);
  job->r = bpf_map_lookup_elem(&kr_peers, &key);
  if (!job->r) return outcome(pass_verdict(tc), KR_NOT_OURS);
  job->strip = 0;
  job->add = 1;
  job->data_len = udp_len - 8;
  if (job->data_len > max_data) {
    job->r = 0;
    return outcome(pass_verdict(tc), KR_TOO_BIG);
  }
  job->out_cd[0] = bpf_htons(job->r->channel);
  job->out_cd[1] = bpf_htons(job->data_len);
  return pass_verdict(tc);
}

// The rewritten datagram's source and destination: the route's relayed address -> peer when
// it goes to the peer, else listening address -> client (of the other client's route, client
// to client).
struct endpoints {
  const __u32* src_ip;
  const __u32* dst_ip;
  __u16 sport;
  __u16 dport;
};

static __always_inline struct endpoints endpoints_of(const struct relay_job* job) {
  const struct kr_route* r = job->r2 ? job->r2 : job->r;
  const int to_peer = !job->add;
  struct endpoints e;
  e.src_ip = to_peer ? r->relay_ip : r->server_ip;
  e.dst_ip = to_peer ? r->peer_ip : r->client_ip;
  e.sport = to_peer ? r->relay_port : r->server_port;
  e.dport = to_peer ? r->peer_port : r->client_port;
  return e;
}

// The length the datagram's UDP header will say.
static __always_inline __u16 new_udp_length(const struct relay_job* job) {
  return 8 + job->data_len + (job->add ? 4 : 0);
}

// Counts what was relayed: each leg on its own allocation's slot and outcome.
static __always_inline void count_job(const struct relay_job* job) {
  if (job->strip) {
    count(job->r, 1, job->data_len);
    outcome(0, KR_RELAYED_TO_PEER);
  }
  if (job->add) {
    count(job->r2 ? job->r2 : job->r, 0, job->data_len);
    outcome(0, KR_RELAYED_TO_CLIENT);
  }
}

// Makes the datagram `job` says out of the frame: the ChannelData header dropped (to the
// peer) or room made for one (to the client), then the rewritten `headers` (`size` bytes
// from the Ethernet header on, the ChannelData header after them when one is sent) written;
// counts and sends.
static __always_inline int emit(void* ctx, int tc, void* headers, const __u32 size,
                                const struct relay_job* job, int forward,
                                const struct bpf_fib_lookup* fib) {
  const int grow = job->add && !job->strip ? 4 : (!job->add && job->strip ? -4 : 0);
  const __u32 out = size + (job->add ? 4 : 0);
  if (tc) {
    struct __sk_buff* skb = ctx;
    // Room is taken or made right after the IP header (which has no options): the first four
    // bytes of the old UDP header go, or four bytes come before it; the new UDP header (and
    // ChannelData header) is then written over that spot. Checksum offload state is kept (the
    // UDP checksum is correct), and a complete checksum of the frame (CHECKSUM_COMPLETE) is
    // kept true by the helpers.
    if (grow != 0 &&
        bpf_skb_adjust_room(skb, grow, BPF_ADJ_ROOM_NET, BPF_F_ADJ_ROOM_NO_CSUM_RESET) != 0) {
      return outcome(TC_ACT_UNSPEC, KR_NOT_HANDLED);
    }
    if (bpf_skb_store_bytes(skb, sizeof(struct ethhdr), headers + sizeof(struct ethhdr),
                            out - sizeof(struct ethhdr), BPF_F_RECOMPUTE_CSUM) != 0) {
      return TC_ACT_SHOT;  // cannot happen: the old headers were there
    }
    if (forward && bpf_skb_store_bytes(skb, 0, headers, 2 * ETH_ALEN, 0) != 0) {
      return TC_ACT_SHOT;
    }
  } else {
    if (grow != 0 && bpf_xdp_adjust_head(ctx, -grow) != 0) {
      return outcome(XDP_PASS, KR_NOT_HANDLED);
    }
    void* data = data_of(ctx, tc);
    void* end = end_of(ctx, tc);
    // Cannot fail: the old headers were there.
    if (data + size > end) return XDP_DROP;
    __builtin_memcpy(data, headers, size);
    if (job->add) {
      if (data + size + 4 > end) return XDP_DROP;
      __builtin_memcpy(data + size, headers + size, 4);
    }
  }
  count_job(job);
  return send(ctx, tc, forward, fib);
}

// ---- IPv4 ----

static __always_inline int rewrite4(void* ctx, int tc, struct headers4* h, struct relay_job* job) {
  if (expired(job->r)) return outcome(pass_verdict(tc), KR_EXPIRED);
  const struct endpoints e = endpoints_of(job);
  const __u16 udp_len = new_udp_length(job);
  const __u16 tot_len = 20 + udp_len;
  const int partial = to_complete(
      ctx, tc,
      h->udp.check != 0 && h->udp.check == pseudo_sum(&h->ip.saddr, &h->ip.daddr, h->udp.len, 1));
  struct bpf_fib_lookup fib;
  const int forward =
      route(ctx, tc, &fib, 0, e.src_ip, e.dst_ip, e.sport, e.dport, tot_len, h->ip.tos, partial);
  if (forward < 0) return pass_verdict(tc);
  if (h->udp.check != 0) {
    h->udp.check = rewritten_check(&h->udp, &h->ip.saddr, &h->ip.daddr, e.src_ip, e.dst_ip, e.sport,
                                   e.dport, udp_len, job, partial, 1);
  }
  h->ip.saddr = e.src_ip[0];
  h->ip.daddr = e.dst_ip[0];
  h->ip.tot_len = bpf_htons(tot_len);
  h->ip.frag_off = bpf_htons(IP_DF);
  h->ip.ttl = KR_TTL;
  ipv4_checksum(&h->ip);
  h->udp.source = e.sport;
  h->udp.dest = e.dport;
  h->udp.len = bpf_htons(udp_len);
  h->cd[0] = job->out_cd[0];
  h->cd[1] = job->out_cd[1];
  set_macs(&h->eth, forward, &fib);
  return emit(ctx, tc, &h->eth, HEADERS4, job, forward, &fib);
}

static __always_inline int ipv4(void* ctx, int tc, void* data, void* end) {
  struct headers4 h;
  if (data + HEADERS4 > end) return outcome(pass_verdict(tc), KR_NOT_OURS);
  __builtin_memcpy(&h.eth, data, HEADERS4);
  if (h.ip.protocol != IPPROTO_UDP) return outcome(pass_verdict(tc), KR_NOT_OURS);
  if (h.ip.ihl != 5 || (h.ip.frag_off & bpf_htons(IP_FRAGMENTS)) != 0) {
    return outcome(pass_verdict(tc), KR_NOT_HANDLED);
  }
  const __u16 tot_len = bpf_ntohs(h.ip.tot_len);
  const __u16 udp_len = bpf_ntohs(h.udp.len);
  // The lengths agree with each other and with the frame (no link-layer padding).
  if (frame_length(ctx, tc, data, end) != sizeof(struct ethhdr) + tot_len ||
      udp_len != tot_len - 20 || udp_len < 8) {
    return outcome(pass_verdict(tc), KR_NOT_HANDLED);
  }
  struct relay_job job;
  const int miss = find_route(tc, &job, &h.ip.saddr, &h.ip.daddr, 0, h.udp.source, h.udp.dest,
                              udp_len, 0xFFFF - 20 - 8 - 4, data + HEADERS4, end);
  if (!job.r) return miss;
  return rewrite4(ctx, tc, &h, &job);
}

// ---- IPv6 ----

static __always_inline int rewrite6(void* ctx, int tc, struct headers6* h, struct relay_job* job) {
  if (expired(job->r)) return outcome(pass_verdict(tc), KR_EXPIRED);
  const struct endpoints e = endpoints_of(job);
  const __u16 udp_len = new_udp_length(job);
  const int partial =
      to_complete(ctx, tc,
                  h->udp.check == pseudo_sum(h->ip.saddr.in6_u.u6_addr32,
                                             h->ip.daddr.in6_u.u6_addr32, h->udp.len, 4));
  if (partial && !job->add) return outcome(pass_verdict(tc), KR_NOT_HANDLED);  // rewritten_check
  struct bpf_fib_lookup fib;
  const int forward =
      route(ctx, tc, &fib, 1, e.src_ip, e.dst_ip, e.sport, e.dport, 40 + udp_len, 0, partial);
  if (forward < 0) return pass_verdict(tc);
  h->udp.check = rewritten_check(&h->udp, h->ip.saddr.in6_u.u6_addr32, h->ip.daddr.in6_u.u6_addr32,
                                 e.src_ip, e.dst_ip, e.sport, e.dport, udp_len, job, partial, 4);
  __builtin_memcpy(h->ip.saddr.in6_u.u6_addr32, e.src_ip, 16);
  __builtin_memcpy(h->ip.daddr.in6_u.u6_addr32, e.dst_ip, 16);
  h->ip.payload_len = bpf_htons(udp_len);
  h->ip.hop_limit = KR_TTL;
  h->udp.source = e.sport;
  h->udp.dest = e.dport;
  h->udp.len = bpf_htons(udp_len);
  h->cd[0] = job->out_cd[0];
  h->cd[1] = job->out_cd[1];
  set_macs(&h->eth, forward, &fib);
  return emit(ctx, tc, &h->eth, HEADERS6, job, forward, &fib);
}

static __always_inline int ipv6(void* ctx, int tc, void* data, void* end) {
  struct headers6 h;
  if (data + HEADERS6 > end) return outcome(pass_verdict(tc), KR_NOT_OURS);
  __builtin_memcpy(&h.eth, data, HEADERS6);
  if (h.ip.nexthdr != IPPROTO_UDP) {
    // Extension headers (hop-by-hop, routing, fragment, destination options) are not parsed.
    const __u8 n = h.ip.nexthdr;
    const int extension = n == 0 || n == 43 || n == 44 || n == 60;
    return outcome(pass_verdict(tc), extension ? KR_NOT_HANDLED : KR_NOT_OURS);
  }
  const __u16 payload_len = bpf_ntohs(h.ip.payload_len);
  const __u16 udp_len = bpf_ntohs(h.udp.len);
  if (frame_length(ctx, tc, data, end) != sizeof(struct ethhdr) + 40 + payload_len ||
      udp_len != payload_len || udp_len < 8 || h.udp.check == 0) {
    return outcome(pass_verdict(tc), KR_NOT_HANDLED);
  }
  struct relay_job job;
  const int miss =
      find_route(tc, &job, h.ip.saddr.in6_u.u6_addr32, h.ip.daddr.in6_u.u6_addr32, 1, h.udp.source,
                 h.udp.dest, udp_len, 0xFFFF - 8 - 4, data + HEADERS6, end);
  if (!job.r) return miss;
  return rewrite6(ctx, tc, &h, &job);
}

static __always_inline int relay(void* ctx, int tc) {
  void* data = data_of(ctx, tc);
  void* end = end_of(ctx, tc);
  struct ethhdr* eth = data;
  if ((void*)(eth + 1) > end) return outcome(pass_verdict(tc), KR_NOT_OURS);
  if (eth->h_proto == bpf_htons(ETH_P_IP)) return ipv4(ctx, tc, data, end);
  if (eth->h_proto == bpf_htons(ETH_P_IPV6)) return ipv6(ctx, tc, data, end);
  return outcome(pass_verdict(tc), KR_NOT_OURS);  // ARP, VLAN-tagged frames, ...
}

SEC("xdp")
int kernel_relay(struct xdp_md* ctx) {
  return relay(ctx, 0);
}

// TC ingress (a tcx link). The skb's head may hold less than the headers: pulled in first.
// Coalesced packets (GRO, gso_size set) hold several datagrams: user space splits them.
SEC("tc")
int kernel_relay_tc(struct __sk_buff* skb) {
  if (skb->gso_size != 0) return outcome(TC_ACT_UNSPEC, KR_NOT_HANDLED);
  const __u32 want = HEADERS6 + 4;
  if ((void*)(long)skb->data + want > (void*)(long)skb->data_end) {
    bpf_skb_pull_data(skb, skb->len < want ? skb->len : want);
  }
  return relay(skb, 1);
}

// bpf_fib_lookup is GPL-only: this program is offered under GPL-2.0 as well (see the first line).
char _license[] SEC("license") = "GPL";
