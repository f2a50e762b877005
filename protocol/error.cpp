// SPDX-License-Identifier: Apache-2.0
// Messages for the protocol error category.
#include "protocol/error.hpp"

#include <string>

namespace turnpike::protocol {
namespace {

class category final : public std::error_category {
 public:
  const char* name() const noexcept override { return "turnpike.protocol"; }
  std::string message(int ev) const override {
    switch (static_cast<errc>(ev)) {
      case errc::ok:
        return "success";
      case errc::truncated:
        return "truncated input";
      case errc::not_stun:
        return "not a STUN message (first two bits not zero)";
      case errc::bad_length:
        return "bad STUN message length";
      case errc::bad_magic_cookie:
        return "magic cookie missing";
      case errc::attribute_overflow:
        return "attribute runs past end of message";
      case errc::attribute_after_fingerprint:
        return "attribute after FINGERPRINT";
      case errc::bad_attribute_length:
        return "bad attribute length";
      case errc::bad_attribute_value:
        return "bad attribute value";
      case errc::bad_address_family:
        return "bad address family";
      case errc::value_too_long:
        return "attribute value too long";
      case errc::buffer_too_small:
        return "output buffer too small";
      case errc::fingerprint_mismatch:
        return "FINGERPRINT does not match";
      case errc::integrity_mismatch:
        return "MESSAGE-INTEGRITY does not match";
      case errc::missing_attribute:
        return "attribute missing";
      case errc::not_channel_data:
        return "not a ChannelData message";
      case errc::bad_channel_number:
        return "bad channel number";
      case errc::bad_frame:
        return "stream holds neither STUN nor ChannelData";
      case errc::crypto_failure:
        return "cryptographic primitive failed";
    }
    return "unknown protocol error";
  }
};

}  // namespace

const std::error_category& protocol_category() noexcept {
  static const category instance;
  return instance;
}

}  // namespace turnpike::protocol
