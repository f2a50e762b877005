// SPDX-License-Identifier: Apache-2.0 OR GPL-2.0-only
// The kernel relay (kernel-relay): an XDP program that relays bound channels of UDP clients
// on UDP relays without waking a shard.
//   client -> peer: a ChannelData datagram from a client to our listening address, on a
//     channel the engine installed: the 4-byte header stripped, sent relayed address -> peer.
//   peer -> client: a datagram from a channel's peer to its relayed address: the header
//     prepended, sent listening address -> client.
// Anything else leaves untouched for user space, which answers it as it always has: other
// traffic, STUN, ChannelData with padding or a length that does not match the datagram,
// fragments, IP options, IPv6 extension headers, VLAN tags, an entry past its expiry (the
// kernel's clock decides, so a stalled shard cannot extend a channel), a destination the FIB
// cannot resolve, a datagram larger than the egress MTU once rewritten.
// Sent packets: IPv4 with DF and TTL 64, IPv6 with hop limit 64; UDP checksums updated
// incrementally (RFC 1624), so a checksum that was wrong stays wrong. A local destination
// (loopback, the addresses in kr_local) goes up the stack; another is sent from the interface
// the FIB names (XDP_TX when it is the one the datagram came in on). The kernel answers FIB
// lookups only on interfaces with forwarding on (net.ipv4.conf.IF.forwarding,
// net.ipv6.conf.IF.forwarding); elsewhere remote destinations stay with user space.
// Compiled with clang -target bpf at build time and embedded in the binary
// (server/net/relays/kernel_relays.cpp loads it).
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/udp.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

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

// The headers as copied to the stack: two bytes first so that the IP header is 4-aligned.
// HEADERS4/HEADERS6 bytes from `eth` on are what the packet holds.
struct headers4 {
  __u16 align;
  struct ethhdr eth;
  struct iphdr ip;
  struct udphdr udp;
};
#define HEADERS4 (sizeof(struct ethhdr) + sizeof(struct iphdr) + sizeof(struct udphdr))

struct headers6 {
  __u16 align;
  struct ethhdr eth;
  struct ipv6hdr ip;
  struct udphdr udp;
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

// One's complement arithmetic over 16-bit words as they lie in the packet.
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
    if (i < words32) sum += (__u16)~(ip[i] & 0xFFFF) + (__u16)~(ip[i] >> 16);
  }
  return sum;
}
static __always_inline __u16 fold(__u32 sum) {
  sum = (sum & 0xFFFF) + (sum >> 16);
  sum = (sum & 0xFFFF) + (sum >> 16);
  return (__u16)sum;
}

// The UDP checksum of a datagram rewritten from (`old_src`, `old_dst`, `old`'s ports and
// length) to (`src`, `dst`, `sport`, `dport`, `udp_len`), with the ChannelData header words
// `channel_word` and `length_word` taken out (`header` < 0), put in (> 0) or neither (0).
// `words32`: 1 for IPv4 addresses, 4 for IPv6.
static __always_inline __u16 rewritten_check(const struct udphdr* old, const __u32* old_src,
                                             const __u32* old_dst, const __u32* src,
                                             const __u32* dst, __u16 sport, __u16 dport,
                                             __u16 udp_len, int header, __u16 channel_word,
                                             __u16 length_word, int words32) {
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
  if (header < 0) {
    sum = sub16(sum, channel_word);
    sum = sub16(sum, length_word);
  } else if (header > 0) {
    sum = add16(sum, channel_word);
    sum = add16(sum, length_word);
  }
  const __u16 check = (__u16)~fold(sum);
  return check ? check : 0xFFFF;  // 0 means "no checksum" in UDP
}

static __always_inline void ipv4_checksum(struct iphdr* ip) {
  ip->check = 0;
  const __u16* w = (const __u16*)ip;
  __u32 sum = 0;
#pragma unroll
  for (int i = 0; i < 10; ++i) sum += w[i];
  ip->check = (__u16)~fold(sum);
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
static __always_inline int route(struct xdp_md* ctx, struct bpf_fib_lookup* fib, int v6,
                                 const __u32* src, const __u32* dst, __u16 sport, __u16 dport,
                                 __u16 tot_len, __u8 tos) {
  __builtin_memset(fib, 0, sizeof(*fib));
  if (local(v6, dst)) return 0;
  fib->family = v6 ? AF_INET6 : AF_INET;
  fib->l4_protocol = IPPROTO_UDP;
  fib->sport = sport;
  fib->dport = dport;
  fib->tot_len = tot_len;
  fib->ifindex = ctx->ingress_ifindex;
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
    outcome(XDP_PASS, KR_TOO_BIG);
  } else if (rc == BPF_FIB_LKUP_RET_FWD_DISABLED) {
    outcome(XDP_PASS, KR_FORWARDING_OFF);
  } else {
    outcome(XDP_PASS, KR_NO_ROUTE);
  }
  return -1;
}

static __always_inline int send(struct xdp_md* ctx, int forward, const struct bpf_fib_lookup* fib,
                                __u32 which) {
  if (!forward) return outcome(XDP_PASS, which);
  if (fib->ifindex == ctx->ingress_ifindex) return outcome(XDP_TX, which);
  return outcome((int)bpf_redirect(fib->ifindex, 0), which);
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

// What a datagram is to the kernel relay once its route is found: ChannelData on an installed
// channel (to the peer) or a datagram from a channel's peer (to the client).
struct relay_job {
  const struct kr_route* r;
  int to_peer;
  __u16 channel_word;  // the ChannelData header as it is (to the peer) or will be written
  __u16 length_word;
  __u16 data_len;
};

// Finds the route of a UDP datagram from (`src`, `sport`) to (`dst`, `dport`) whose payload
// starts at `payload`, into `job`; when there is none (job->r null), returns the verdict with
// its outcome counted. ChannelData must fill the datagram exactly; data from a peer may be at
// most `max_data` bytes (the largest datagram once the header is added).
static __always_inline int find_route(struct relay_job* job, const __u32* src, const __u32* dst,
                                      int v6, __u16 sport, __u16 dport, __u16 udp_len,
                                      __u16 max_data, __u8* payload, void* end) {
  const __u16 family = v6 ? TURNPIKE_KR_FAMILY_V6 : TURNPIKE_KR_FAMILY_V4;
  job->r = 0;
  if (udp_len >= 12 && (void*)(payload + 4) <= end && (payload[0] & 0xC0) == 0x40) {
    struct kr_channel_key key = {};
    __builtin_memcpy(key.client_ip, src, v6 ? 16 : 4);
    __builtin_memcpy(key.server_ip, dst, v6 ? 16 : 4);
    key.client_port = sport;
    key.server_port = dport;
    job->channel_word = *(__u16*)payload;
    job->length_word = *(__u16*)(payload + 2);
    key.channel = bpf_ntohs(job->channel_word);
    key.family = family;
    job->r = bpf_map_lookup_elem(&kr_channels, &key);
    if (job->r) {
      job->to_peer = 1;
      job->data_len = bpf_ntohs(job->length_word);
      if (job->data_len == udp_len - 12) return XDP_PASS;
      job->r = 0;  // padded, or a length that lies: user space decides
      return outcome(XDP_PASS, KR_NOT_HANDLED);
    }
  }
  struct kr_peer_key key = {};
  __builtin_memcpy(key.peer_ip, src, v6 ? 16 : 4);
  __builtin_memcpy(key.relay_ip, dst, v6 ? 16 : 4);
  key.peer_port = sport;
  key.relay_port = dport;
  key.family = family;
  job->r = bpf_map_lookup_elem(&kr_peers, &key);
  if (!job->r) return outcome(XDP_PASS, KR_NOT_OURS);
  job->to_peer = 0;
  job->data_len = udp_len - 8;
  if (job->data_len > max_data) {
    job->r = 0;
    return outcome(XDP_PASS, KR_TOO_BIG);
  }
  job->channel_word = bpf_htons(job->r->channel);
  job->length_word = bpf_htons(job->data_len);
  return XDP_PASS;
}

// The rewritten datagram's source and destination.
struct endpoints {
  const __u32* src_ip;
  const __u32* dst_ip;
  __u16 sport;
  __u16 dport;
};

static __always_inline struct endpoints endpoints_of(const struct relay_job* job) {
  const struct kr_route* r = job->r;
  struct endpoints e;
  e.src_ip = job->to_peer ? r->relay_ip : r->server_ip;
  e.dst_ip = job->to_peer ? r->peer_ip : r->client_ip;
  e.sport = job->to_peer ? r->relay_port : r->server_port;
  e.dport = job->to_peer ? r->peer_port : r->client_port;
  return e;
}

// Drops (to the peer) or makes room for (to the client) the ChannelData header, writes the
// rewritten `headers` (`size` bytes from the Ethernet header on) and, toward the client, the
// ChannelData header after them; counts and sends.
static __always_inline int emit(struct xdp_md* ctx, const void* headers, const __u32 size,
                                const struct relay_job* job, int forward,
                                const struct bpf_fib_lookup* fib) {
  if (bpf_xdp_adjust_head(ctx, job->to_peer ? 4 : -4) != 0) {
    return outcome(XDP_PASS, KR_NOT_HANDLED);
  }
  void* data = (void*)(long)ctx->data;
  void* end = (void*)(long)ctx->data_end;
  if (data + size > end) return XDP_DROP;  // cannot happen: the headers were there
  __builtin_memcpy(data, headers, size);
  if (!job->to_peer) {
    __u16* cd = data + size;
    if ((void*)(cd + 2) > end) return XDP_DROP;  // cannot happen: the old headers were there
    cd[0] = job->channel_word;
    cd[1] = job->length_word;
  }
  count(job->r, job->to_peer, job->data_len);
  return send(ctx, forward, fib, job->to_peer ? KR_RELAYED_TO_PEER : KR_RELAYED_TO_CLIENT);
}

// ---- IPv4 ----

static __always_inline int rewrite4(struct xdp_md* ctx, struct headers4* h,
                                    const struct relay_job* job) {
  if (expired(job->r)) return outcome(XDP_PASS, KR_EXPIRED);
  const struct endpoints e = endpoints_of(job);
  const __u16 udp_len = 8 + job->data_len + (job->to_peer ? 0 : 4);
  const __u16 tot_len = 20 + udp_len;
  struct bpf_fib_lookup fib;
  const int forward =
      route(ctx, &fib, 0, e.src_ip, e.dst_ip, e.sport, e.dport, tot_len, h->ip.tos);
  if (forward < 0) return XDP_PASS;
  if (h->udp.check != 0) {
    h->udp.check = rewritten_check(&h->udp, &h->ip.saddr, &h->ip.daddr, e.src_ip, e.dst_ip,
                                   e.sport, e.dport, udp_len, job->to_peer ? -1 : 1,
                                   job->channel_word, job->length_word, 1);
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
  set_macs(&h->eth, forward, &fib);
  return emit(ctx, &h->eth, HEADERS4, job, forward, &fib);
}

static __always_inline int ipv4(struct xdp_md* ctx, void* data, void* end) {
  struct headers4 h;
  if (data + HEADERS4 > end) return outcome(XDP_PASS, KR_NOT_OURS);
  __builtin_memcpy(&h.eth, data, HEADERS4);
  if (h.ip.protocol != IPPROTO_UDP) return outcome(XDP_PASS, KR_NOT_OURS);
  if (h.ip.ihl != 5 || (h.ip.frag_off & bpf_htons(IP_FRAGMENTS)) != 0) {
    return outcome(XDP_PASS, KR_NOT_HANDLED);
  }
  const __u16 tot_len = bpf_ntohs(h.ip.tot_len);
  const __u16 udp_len = bpf_ntohs(h.udp.len);
  // The lengths agree with each other and with the frame (no link-layer padding).
  if (data + sizeof(struct ethhdr) + tot_len != end || udp_len != tot_len - 20 || udp_len < 8) {
    return outcome(XDP_PASS, KR_NOT_HANDLED);
  }
  struct relay_job job;
  const int miss = find_route(&job, &h.ip.saddr, &h.ip.daddr, 0, h.udp.source, h.udp.dest,
                              udp_len, 0xFFFF - 20 - 8 - 4, data + HEADERS4, end);
  if (!job.r) return miss;
  return rewrite4(ctx, &h, &job);
}

// ---- IPv6 ----

static __always_inline int rewrite6(struct xdp_md* ctx, struct headers6* h,
                                    const struct relay_job* job) {
  if (expired(job->r)) return outcome(XDP_PASS, KR_EXPIRED);
  const struct endpoints e = endpoints_of(job);
  const __u16 udp_len = 8 + job->data_len + (job->to_peer ? 0 : 4);
  struct bpf_fib_lookup fib;
  const int forward =
      route(ctx, &fib, 1, e.src_ip, e.dst_ip, e.sport, e.dport, 40 + udp_len, 0);
  if (forward < 0) return XDP_PASS;
  h->udp.check = rewritten_check(&h->udp, h->ip.saddr.in6_u.u6_addr32,
                                 h->ip.daddr.in6_u.u6_addr32, e.src_ip, e.dst_ip, e.sport,
                                 e.dport, udp_len, job->to_peer ? -1 : 1, job->channel_word,
                                 job->length_word, 4);
  __builtin_memcpy(h->ip.saddr.in6_u.u6_addr32, e.src_ip, 16);
  __builtin_memcpy(h->ip.daddr.in6_u.u6_addr32, e.dst_ip, 16);
  h->ip.payload_len = bpf_htons(udp_len);
  h->ip.hop_limit = KR_TTL;
  h->udp.source = e.sport;
  h->udp.dest = e.dport;
  h->udp.len = bpf_htons(udp_len);
  set_macs(&h->eth, forward, &fib);
  return emit(ctx, &h->eth, HEADERS6, job, forward, &fib);
}

static __always_inline int ipv6(struct xdp_md* ctx, void* data, void* end) {
  struct headers6 h;
  if (data + HEADERS6 > end) return outcome(XDP_PASS, KR_NOT_OURS);
  __builtin_memcpy(&h.eth, data, HEADERS6);
  if (h.ip.nexthdr != IPPROTO_UDP) {
    // Extension headers (hop-by-hop, routing, fragment, destination options) are not parsed.
    const __u8 n = h.ip.nexthdr;
    const int extension = n == 0 || n == 43 || n == 44 || n == 60;
    return outcome(XDP_PASS, extension ? KR_NOT_HANDLED : KR_NOT_OURS);
  }
  const __u16 payload_len = bpf_ntohs(h.ip.payload_len);
  const __u16 udp_len = bpf_ntohs(h.udp.len);
  if (data + sizeof(struct ethhdr) + 40 + payload_len != end || udp_len != payload_len ||
      udp_len < 8 || h.udp.check == 0) {
    return outcome(XDP_PASS, KR_NOT_HANDLED);
  }
  struct relay_job job;
  const int miss = find_route(&job, h.ip.saddr.in6_u.u6_addr32, h.ip.daddr.in6_u.u6_addr32, 1,
                              h.udp.source, h.udp.dest, udp_len, 0xFFFF - 8 - 4,
                              data + HEADERS6, end);
  if (!job.r) return miss;
  return rewrite6(ctx, &h, &job);
}

SEC("xdp")
int kernel_relay(struct xdp_md* ctx) {
  void* data = (void*)(long)ctx->data;
  void* end = (void*)(long)ctx->data_end;
  struct ethhdr* eth = data;
  if ((void*)(eth + 1) > end) return outcome(XDP_PASS, KR_NOT_OURS);
  if (eth->h_proto == bpf_htons(ETH_P_IP)) return ipv4(ctx, data, end);
  if (eth->h_proto == bpf_htons(ETH_P_IPV6)) return ipv6(ctx, data, end);
  return outcome(XDP_PASS, KR_NOT_OURS);  // ARP, VLAN-tagged frames, ...
}

// bpf_fib_lookup is GPL-only: this program is offered under GPL-2.0 as well (see the first line).
char _license[] SEC("license") = "GPL";
