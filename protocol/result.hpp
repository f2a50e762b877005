// SPDX-License-Identifier: Apache-2.0
// Value-or-error type used across Turnpike: boost::system::result carrying a std::error_code.
#pragma once

#include <system_error>

#include <boost/system/result.hpp>

namespace turnpike {

template <class T>
using result = boost::system::result<T, std::error_code>;

}  // namespace turnpike
