// SPDX-License-Identifier: Apache-2.0
// Finding an option by name, and the nearest known name to a misspelt one.
#include "server/config/options.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <vector>

namespace turnpike::server::config {

const option_spec* find_option(std::string_view name) noexcept {
  for (const option_spec& o : option_table()) {
    if (o.name == name) return &o;
  }
  return nullptr;
}

std::string_view nearest_option(std::string_view name) {
  auto lower = [](char c) {
    return static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  };
  // Levenshtein distance, one row at a time.
  auto distance = [&](std::string_view a, std::string_view b) {
    std::vector<std::size_t> row(b.size() + 1);
    for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
    for (std::size_t i = 1; i <= a.size(); ++i) {
      std::size_t diagonal = row[0];
      row[0] = i;
      for (std::size_t j = 1; j <= b.size(); ++j) {
        const std::size_t above = row[j];
        row[j] = std::min(
            {row[j] + 1, row[j - 1] + 1, diagonal + (lower(a[i - 1]) == lower(b[j - 1]) ? 0 : 1)});
        diagonal = above;
      }
    }
    return row[b.size()];
  };
  std::string_view best;
  std::size_t best_distance = 0;
  for (const option_spec& o : option_table()) {
    const std::size_t d = distance(name, o.name);
    if (best.empty() || d < best_distance) {
      best = o.name;
      best_distance = d;
    }
  }
  // A typo changes a few characters; beyond a third of the name it is another word.
  const std::size_t limit = std::max<std::size_t>(2, name.size() / 3);
  return best_distance <= limit ? best : std::string_view{};
}

}  // namespace turnpike::server::config
