// SPDX-License-Identifier: Apache-2.0
// Codec micro-benchmarks: parse + MESSAGE-INTEGRITY check + response build for a typical
// authenticated Allocate request (recorded from Chromium 156; key MD5("u:test:p")).
// Measures only; no test asserts on these numbers.
#include <benchmark/benchmark.h>

#include <array>
#include <cstdlib>
#include <string_view>
#include <vector>

#include "protocol/attr_address.hpp"
#include "protocol/attr_turn.hpp"
#include "protocol/builder.hpp"
#include "protocol/integrity.hpp"
#include "protocol/long_term_key.hpp"
#include "protocol/message.hpp"

namespace p = turnpike::protocol;

namespace {

std::vector<std::uint8_t> from_hex(std::string_view hex) {
  std::vector<std::uint8_t> out;
  for (std::size_t i = 0; i + 1 < hex.size(); i += 2) {
    out.push_back(static_cast<std::uint8_t>(std::stoi(std::string(hex.substr(i, 2)), nullptr, 16)));
  }
  return out;
}

const std::vector<std::uint8_t> allocate = from_hex(
    "0003004c2112a44234656d456935587a5146663800190004110000000006000175000000001400047465737400"
    "150018366230356630303830383161666461376430393464656364000800149c8ec3783c34df970695556a215d"
    "67e6314cb7b8");

const p::md5_key key = p::long_term_key_md5("u", "test", "p");
const p::transport_address relayed = *p::transport_address::parse_ip("203.0.113.5", 50000);
const p::transport_address mapped = *p::transport_address::parse_ip("198.51.100.7", 61000);

// The success answer to an Allocate: relayed and mapped addresses, lifetime, signed.
p::byte_span build_success(std::span<std::uint8_t> out, p::byte_span tid) {
  p::message_builder b(out, p::method::allocate, p::msg_class::success_response, tid);
  p::add_xor_address(b, p::attr::xor_relayed_address, relayed);
  p::add_xor_address(b, p::attr::xor_mapped_address, mapped);
  b.add_u32(p::attr::lifetime, 600);
  b.add_message_integrity(key);
  b.add_fingerprint();
  auto r = b.finish();
  if (!r) std::abort();
  return *r;
}

void BM_Parse(benchmark::State& state) {
  for (auto _ : state) {
    auto m = p::message_view::parse(allocate);
    benchmark::DoNotOptimize(m);
  }
}
BENCHMARK(BM_Parse);

void BM_CheckIntegrity(benchmark::State& state) {
  const auto m = *p::message_view::parse(allocate);
  for (auto _ : state) benchmark::DoNotOptimize(p::check_message_integrity(m, key));
}
BENCHMARK(BM_CheckIntegrity);

void BM_BuildAllocateSuccess(benchmark::State& state) {
  const auto m = *p::message_view::parse(allocate);
  std::array<std::uint8_t, 256> out{};
  for (auto _ : state) benchmark::DoNotOptimize(build_success(out, m.tid_bytes()));
}
BENCHMARK(BM_BuildAllocateSuccess);

// The whole server-side path for one authenticated Allocate: parse, look up the attributes the
// handler needs, verify the HMAC, build and sign the answer.
void BM_ParseVerifyBuild(benchmark::State& state) {
  std::array<std::uint8_t, 256> out{};
  for (auto _ : state) {
    auto m = p::message_view::parse(allocate);
    if (!m) std::abort();
    auto transport = p::decode_requested_transport(m->find(p::attr::requested_transport)->value);
    benchmark::DoNotOptimize(transport);
    benchmark::DoNotOptimize(m->find(p::attr::username));
    benchmark::DoNotOptimize(m->find(p::attr::nonce));
    if (!p::check_message_integrity(*m, key)) std::abort();
    benchmark::DoNotOptimize(build_success(out, m->tid_bytes()));
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_ParseVerifyBuild);

}  // namespace

BENCHMARK_MAIN();
