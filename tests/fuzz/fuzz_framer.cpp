// SPDX-License-Identifier: Apache-2.0
// libFuzzer target: the stream framer. The input is a byte stream; the first byte chooses a
// chunk size. Framing the whole stream and framing it chunk by chunk must give the same frames
// (and the same verdict), and every frame must stay inside the bytes it was given.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <vector>

#include "protocol/framer.hpp"

namespace p = turnpike::protocol;

namespace {

struct outcome {
  std::vector<std::pair<std::size_t, std::size_t>> frames;  // offset, message size
  bool invalid = false;
  bool operator==(const outcome&) const = default;
};

outcome frame_stream(const std::uint8_t* data, std::size_t size, std::size_t chunk) {
  outcome o;
  std::vector<std::uint8_t> pending;
  std::size_t base = 0;  // stream offset of pending[0]
  for (std::size_t fed = 0; fed < size && !o.invalid;) {
    const std::size_t n = std::min(chunk, size - fed);
    pending.insert(pending.end(), data + fed, data + fed + n);
    fed += n;
    std::size_t off = 0;
    for (;;) {
      const p::frame f = p::next_frame(p::byte_span(pending).subspan(off));
      if (f.status == p::frame_status::invalid) {
        o.invalid = true;
        break;
      }
      if (f.status == p::frame_status::need_more) break;
      if (f.size > pending.size() - off || f.message_size > f.size || f.size == 0 ||
          f.size > p::max_frame_size) {
        std::abort();
      }
      o.frames.emplace_back(base + off, f.message_size);
      off += f.size;
    }
    pending.erase(pending.begin(), pending.begin() + static_cast<std::ptrdiff_t>(off));
    base += off;
  }
  return o;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::size_t chunk = 1 + data[0] % 97;
  const outcome whole = frame_stream(data + 1, size - 1, size);
  const outcome split = frame_stream(data + 1, size - 1, chunk);
  if (!(whole == split)) std::abort();
  return 0;
}
