// SPDX-License-Identifier: Apache-2.0
// "Authorization: Bearer KEY" checked against a configured key, in constant time for keys of
// equal length: used by /ice-servers (signaling-api-key) and the sessions API (admin-api-key).
#pragma once

#include <openssl/crypto.h>

#include <boost/beast/http.hpp>
#include <cctype>
#include <string_view>

namespace turnpike::server::http_auth {

template <class Body>
bool bearer_matches(const boost::beast::http::request<Body>& req, std::string_view key) {
  const auto it = req.find(boost::beast::http::field::authorization);
  if (it == req.end() || key.empty()) return false;
  const std::string_view value = it->value();
  constexpr std::string_view scheme = "bearer ";
  if (value.size() <= scheme.size()) return false;
  for (std::size_t i = 0; i < scheme.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(value[i])) != scheme[i]) return false;
  }
  std::string_view presented = value.substr(scheme.size());
  while (!presented.empty() && presented.front() == ' ') presented.remove_prefix(1);
  while (!presented.empty() && presented.back() == ' ') presented.remove_suffix(1);
  return presented.size() == key.size() &&
         CRYPTO_memcmp(presented.data(), key.data(), key.size()) == 0;
}

}  // namespace turnpike::server::http_auth
