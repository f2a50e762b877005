// SPDX-License-Identifier: Apache-2.0
// libFuzzer target: MESSAGE-INTEGRITY, MESSAGE-INTEGRITY-SHA256 (every allowed truncation) and
// FINGERPRINT. From the input: a key, attributes, which integrity attributes to add and one
// byte to change. A message we sign must verify; once any byte the HMAC or CRC covers is
// changed, it must not (or no longer parse).
#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "protocol/builder.hpp"
#include "protocol/integrity.hpp"
#include "protocol/message.hpp"

namespace p = turnpike::protocol;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 4 + 16) return 0;
  const std::uint8_t flags = data[0];
  const std::uint16_t flip_at = static_cast<std::uint16_t>(data[1] | (data[2] << 8));
  const std::uint8_t flip_with = data[3] == 0 ? 0x01 : data[3];
  const p::byte_span key(data + 4, 16);
  const std::uint8_t* in = data + 20;
  std::size_t left = size - 20;

  std::array<std::uint8_t, 4096> buf{};
  std::array<std::uint8_t, 12> tid{};
  for (std::size_t i = 0; i < tid.size() && i < left; ++i) tid[i] = in[i];
  const std::size_t skip = std::min(tid.size(), left);
  in += skip;
  left -= skip;
  p::message_builder b(buf, p::method::binding, p::msg_class::request, tid);
  // Attributes: type (2 bytes), length (1 byte), value; never the three checked here.
  while (left >= 3) {
    const auto type = static_cast<std::uint16_t>(in[0] << 8 | in[1]);
    const std::size_t len = std::min<std::size_t>(in[2], left - 3);
    if (type != p::attr::message_integrity && type != p::attr::message_integrity_sha256 &&
        type != p::attr::fingerprint) {
      b.add(type, p::byte_span(in + 3, len));
    }
    in += 3 + len;
    left -= 3 + len;
  }
  const bool sha1 = (flags & 1) != 0;
  const bool sha256 = (flags & 2) != 0;
  const bool crc = (flags & 4) != 0;
  const std::size_t truncation = 16 + 4 * ((flags >> 3) % 5);  // 16, 20, ..., 32
  std::size_t sha1_end = 0, sha256_end = 0;
  if (sha1) {
    b.add_message_integrity(key);
    sha1_end = b.size();
  }
  if (sha256) {
    b.add_message_integrity_sha256(key, truncation);
    sha256_end = b.size();
  }
  if (crc) b.add_fingerprint();
  const auto out = b.finish();
  if (!out) return 0;  // too large for the buffer
  const std::size_t n = out->size();

  const auto m = p::message_view::parse(*out);
  if (!m) std::abort();
  if (sha1 && !p::check_message_integrity(*m, key)) std::abort();
  if (sha256 && !p::check_message_integrity_sha256(*m, key)) std::abort();
  if (crc && !p::check_fingerprint(*m)) std::abort();
  if (!sha1 && p::check_message_integrity(*m, key)) std::abort();
  if (!sha256 && p::check_message_integrity_sha256(*m, key)) std::abort();

  // One byte changed.
  const std::size_t at = flip_at % n;
  buf[at] ^= flip_with;
  if (const auto changed = p::message_view::parse(p::byte_span(buf.data(), n))) {
    if (sha1 && at < sha1_end && p::check_message_integrity(*changed, key)) std::abort();
    if (sha256 && at < sha256_end && p::check_message_integrity_sha256(*changed, key)) {
      std::abort();
    }
    if (crc && p::check_fingerprint(*changed)) std::abort();
  }
  return 0;
}
