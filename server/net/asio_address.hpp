// SPDX-License-Identifier: Apache-2.0
// Conversions between Asio endpoints and protocol::transport_address, and opening a
// listening TCP acceptor.
#pragma once

#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/basic_endpoint.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/system/system_error.hpp>
#include <cstring>
#include <string>

#include "protocol/types.hpp"

namespace turnpike::server::net {

inline boost::asio::ip::address to_asio(const protocol::transport_address& a) {
  if (a.family == protocol::address_family::ipv4) {
    boost::asio::ip::address_v4::bytes_type b;
    std::memcpy(b.data(), a.ip.data(), 4);
    return boost::asio::ip::address_v4(b);
  }
  boost::asio::ip::address_v6::bytes_type b;
  std::memcpy(b.data(), a.ip.data(), 16);
  return boost::asio::ip::address_v6(b);
}

template <class Protocol>
boost::asio::ip::basic_endpoint<Protocol> to_endpoint(const protocol::transport_address& a) {
  return {to_asio(a), a.port};
}

template <class Protocol>
protocol::transport_address from_endpoint(const boost::asio::ip::basic_endpoint<Protocol>& e) {
  protocol::transport_address a;
  const auto ip = e.address();
  if (ip.is_v4()) {
    a.family = protocol::address_family::ipv4;
    const auto b = ip.to_v4().to_bytes();
    std::memcpy(a.ip.data(), b.data(), 4);
  } else {
    const auto v6 = ip.to_v6();
    if (v6.is_v4_mapped()) {
      a.family = protocol::address_family::ipv4;
      const auto b = boost::asio::ip::make_address_v4(boost::asio::ip::v4_mapped, v6).to_bytes();
      std::memcpy(a.ip.data(), b.data(), 4);
    } else {
      a.family = protocol::address_family::ipv6;
      const auto b = v6.to_bytes();
      std::memcpy(a.ip.data(), b.data(), 16);
    }
  }
  a.port = e.port();
  return a;
}

// Opens, binds (SO_REUSEADDR) and listens on `at`; returns the bound address (port 0 picks
// one). Errors are thrown as system_error naming `what` and the address.
inline protocol::transport_address listen_on(boost::asio::ip::tcp::acceptor& acceptor,
                                             const protocol::transport_address& at,
                                             const std::string& what) {
  const auto ep = to_endpoint<boost::asio::ip::tcp>(at);
  try {
    acceptor.open(ep.protocol());
    acceptor.set_option(boost::asio::ip::tcp::acceptor::reuse_address(true));
    acceptor.bind(ep);
    acceptor.listen();
  } catch (const boost::system::system_error& e) {
    throw boost::system::system_error(e.code(), what + " " + at.to_string());
  }
  return from_endpoint(acceptor.local_endpoint());
}

}  // namespace turnpike::server::net
