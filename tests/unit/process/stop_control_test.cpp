// SPDX-License-Identifier: Apache-2.0
// The stop and drain state machine with a fake clock; the link watch's change log.
#include "server/process/stop_control.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "server/process/link_watch.hpp"

namespace turnpike::server::process {
namespace {

using namespace std::chrono_literals;

struct recorder {
  std::vector<std::string> drains, stops;
  stop_control::actions actions() {
    return {[this](const std::string& why) { drains.push_back(why); },
            [this](const std::string& why) { stops.push_back(why); }};
  }
};

const stop_control::clock::time_point t0{};

TEST(StopControl, WithoutGraceAStopSignalStopsAtOnce) {
  recorder r;
  stop_control s(0s, r.actions());
  s.on_stop_signal("SIGTERM", t0);
  EXPECT_TRUE(r.drains.empty());
  ASSERT_EQ(r.stops.size(), 1u);
  EXPECT_EQ(r.stops[0], "signal SIGTERM received");
  EXPECT_FALSE(s.next_check());
  s.on_stop_signal("SIGINT", t0);  // stopped once only
  EXPECT_EQ(r.stops.size(), 1u);
}

TEST(StopControl, ADrainSignalDrainsOnceAndNeverStops) {
  recorder r;
  stop_control s(0s, r.actions());
  s.on_drain_signal();
  s.on_drain_signal();
  EXPECT_EQ(r.drains, std::vector<std::string>{"SIGUSR1"});
  EXPECT_TRUE(s.draining());
  EXPECT_FALSE(s.next_check());
  EXPECT_TRUE(r.stops.empty());
}

TEST(StopControl, GraceDrainsThenStopsWhenTheLastAllocationEnds) {
  recorder r;
  stop_control s(30s, r.actions());
  s.on_stop_signal("SIGTERM", t0);
  EXPECT_EQ(r.drains, std::vector<std::string>{"SIGTERM"});
  ASSERT_TRUE(s.next_check());
  EXPECT_EQ(*s.next_check(), t0 + stop_control::first_check);
  s.on_check(3, t0 + 100ms);
  EXPECT_TRUE(r.stops.empty());
  EXPECT_EQ(*s.next_check(), t0 + 100ms + stop_control::check_every);
  s.on_check(0, t0 + 600ms);
  EXPECT_EQ(r.stops, std::vector<std::string>{"drained: 0 relayed addresses left"});
  EXPECT_FALSE(s.next_check());
}

TEST(StopControl, GraceEndsAtItsDeadlineAndASecondSignalEndsItAtOnce) {
  recorder r;
  stop_control s(2s, r.actions());
  s.on_stop_signal("SIGINT", t0);
  s.on_check(5, t0 + 1s);
  EXPECT_TRUE(r.stops.empty());
  s.on_check(5, t0 + 2s);
  EXPECT_EQ(r.stops, std::vector<std::string>{"drained: 5 relayed addresses left"});

  recorder again;
  stop_control t(60s, again.actions());
  t.on_drain_signal();  // already draining: the grace does not drain twice
  t.on_stop_signal("SIGTERM", t0);
  EXPECT_EQ(again.drains, std::vector<std::string>{"SIGUSR1"});
  EXPECT_TRUE(again.stops.empty());
  t.on_stop_signal("SIGTERM", t0 + 1s);
  EXPECT_EQ(again.stops, std::vector<std::string>{"signal SIGTERM received"});
  t.on_check(0, t0 + 2s);  // a check already under way changes nothing
  EXPECT_EQ(again.stops.size(), 1u);
}

TEST(LinkWatch, TellsChangesOnlyAndNothingForAFirstLookThatIsDown) {
  std::vector<bool> told;
  link_watch w([&](bool up) { told.push_back(up); });
  w.observe(false);
  w.observe(true);
  w.observe(true);
  w.observe(false);
  w.observe(false);
  w.observe(true);
  EXPECT_EQ(told, (std::vector<bool>{true, false, true}));
  EXPECT_TRUE(w.up());
}

}  // namespace
}  // namespace turnpike::server::process
