#include <gtest/gtest.h>

#include "engine/sample/stop_matcher.h"

namespace ts::sample {
namespace {

TEST(StopMatcher, MatchesAcrossPiecesWithoutLeaking) {
  StopMatcher m({"</end>", "xyz"});
  std::string out;
  for (const char* piece : {"Hello <", "/e", "nd> tail"}) out += m.Push(piece);
  EXPECT_EQ(out, "Hello ");
  EXPECT_TRUE(m.stopped());
  EXPECT_EQ(m.Push("more"), "");
}

TEST(StopMatcher, HoldsBackOnlyPossiblePrefixes) {
  StopMatcher m({"abc"});
  EXPECT_EQ(m.Push("xxa"), "xx");
  EXPECT_EQ(m.Push("b"), "");
  EXPECT_EQ(m.Push("d"), "abd");
  EXPECT_EQ(m.Push("a"), "");
  EXPECT_EQ(m.Flush(), "a");  // generation ended: the held tail is real text
  EXPECT_FALSE(m.stopped());
}

TEST(StopMatcher, EarliestOfSeveralStops) {
  StopMatcher m({"world", "lo"});
  EXPECT_EQ(m.Push("hello world"), "hel");
}

TEST(StopMatcher, NoStopsPassesEverything) {
  StopMatcher m({});
  EXPECT_EQ(m.Push("abc"), "abc");
}

}  // namespace
}  // namespace ts::sample
