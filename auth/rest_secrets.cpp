// SPDX-License-Identifier: Apache-2.0
// TURN REST API key derivation and the key_chain combinator.
#include "auth/rest_secrets.hpp"

#include <openssl/evp.h>

#include <array>
#include <charconv>

#include "protocol/integrity.hpp"

namespace turnpike::auth {

rest_secrets::rest_secrets(std::vector<std::string> secrets, std::string realm, char separator)
    : secrets_(std::move(secrets)), realm_(std::move(realm)), separator_(separator) {}

std::string rest_secrets::password_for(std::string_view secret, std::string_view username) {
  std::array<std::uint8_t, 20> mac{};
  protocol::hmac_sha1(
      protocol::byte_span(reinterpret_cast<const std::uint8_t*>(secret.data()), secret.size()),
      protocol::byte_span(reinterpret_cast<const std::uint8_t*>(username.data()), username.size()),
      mac);
  std::array<unsigned char, 4 * ((20 + 2) / 3) + 1> b64{};
  const int n = EVP_EncodeBlock(b64.data(), mac.data(), static_cast<int>(mac.size()));
  return std::string(reinterpret_cast<const char*>(b64.data()), static_cast<std::size_t>(n));
}

void rest_secrets::find_key(std::string_view username, std::string_view realm,
                            std::int64_t unix_now, callback done) {
  lookup_result r;
  // The timestamp is the part before the separator (or the whole name).
  const auto sep = username.find(separator_);
  const std::string_view stamp = username.substr(0, sep);
  std::int64_t expiry = 0;
  const auto [ptr, ec] = std::from_chars(stamp.data(), stamp.data() + stamp.size(), expiry);
  const bool well_formed =
      !stamp.empty() && ec == std::errc{} && ptr == stamp.data() + stamp.size();
  if (realm == realm_ && well_formed && expiry >= unix_now) {
    for (const std::string& secret : secrets_) {
      const std::string password = password_for(secret, username);
      credential c;
      c.md5 = protocol::long_term_key_md5(username, realm_, password);
      c.sha256 = protocol::long_term_key_sha256(username, realm_, password);
      r.keys.push_back(c);
    }
    r.status = r.keys.empty() ? lookup_status::not_found : lookup_status::found;
  }
  done(r);
}

void key_chain::find_key(std::string_view username, std::string_view realm, std::int64_t unix_now,
                         callback done) {
  ask(0, std::string(username), std::string(realm), unix_now, std::move(done));
}

void key_chain::ask(std::size_t index, std::string username, std::string realm,
                    std::int64_t unix_now, callback done) {
  if (index >= sources_.size()) {
    done(lookup_result{});
    return;
  }
  key_source* s = sources_[index];
  s->find_key(username, realm, unix_now,
              [this, index, username, realm, unix_now, done](const lookup_result& r) mutable {
                if (r.status != lookup_status::not_found) {
                  done(r);
                  return;
                }
                ask(index + 1, std::move(username), std::move(realm), unix_now, std::move(done));
              });
}

}  // namespace turnpike::auth
