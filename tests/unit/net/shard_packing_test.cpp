// SPDX-License-Identifier: Apache-2.0
// Shard packing's governor: how many shards take new clients for a given load.
#include "server/net/shard_packing.hpp"

#include <gtest/gtest.h>

namespace turnpike::server::net {
namespace {

TEST(ShardPackingGovernor, OneShardWhileTheLoadFitsInOne) {
  EXPECT_EQ(shard_packing::choose_active(0, 1, 4, 1000), 1u);
  EXPECT_EQ(shard_packing::choose_active(999, 1, 4, 1000), 1u);
}

TEST(ShardPackingGovernor, OneMoreShardPerRate) {
  EXPECT_EQ(shard_packing::choose_active(1001, 1, 4, 1000), 2u);
  EXPECT_EQ(shard_packing::choose_active(2500, 1, 4, 1000), 3u);
  // Never more than there are; all of them hands new clients back to the kernel's hash.
  EXPECT_EQ(shard_packing::choose_active(1e9, 1, 4, 1000), 4u);
}

TEST(ShardPackingGovernor, FewerOnlyWithAQuarterToSpare) {
  // Three open: 2000/s would fit in two exactly, so they stay three until under 1500.
  EXPECT_EQ(shard_packing::choose_active(2000, 3, 4, 1000), 3u);
  EXPECT_EQ(shard_packing::choose_active(1499, 3, 4, 1000), 2u);
  // And down to one at once when the load has gone.
  EXPECT_EQ(shard_packing::choose_active(0, 4, 4, 1000), 1u);
  // In between: no flapping at the boundary.
  EXPECT_EQ(shard_packing::choose_active(1000, 2, 4, 1000), 2u);
  EXPECT_EQ(shard_packing::choose_active(1000, 1, 4, 1000), 1u);
}

TEST(ShardPackingGovernor, ZeroRateMeansEveryShard) {
  EXPECT_EQ(shard_packing::choose_active(0, 1, 4, 0), 4u);
}

}  // namespace
}  // namespace turnpike::server::net
