// Every registered strategy: every proposal valid and new, the budget respected, the same seed
// giving the same sequence, and a restored state continuing exactly like an uninterrupted run.

#include <gtest/gtest.h>

#include <algorithm>
#include <set>

#include "attune/error.hpp"
#include "attune/strategy_registry.hpp"

namespace attune {
namespace {

SearchSpace small_space() {
  return SearchSpace({{"x", {Value(1), Value(2), Value(4), Value(8), Value(16)}},
                      {"y", {Value(1), Value(2), Value(3), Value(4), Value(5), Value(6)}},
                      {"z", {Value("a"), Value("b")}}},
                     {Constraint("x * y <= 32")});
}

std::vector<std::size_t> drain(Strategy& s, std::size_t batch) {
  std::vector<std::size_t> all;
  for (;;) {
    auto got = s.ask(batch);
    if (got.empty()) return all;
    EXPECT_LE(got.size(), batch);
    for (auto i : got) {
      s.tell({i, Status::Ok, 1.0});
      all.push_back(i);
    }
  }
}

class EveryStrategy : public ::testing::TestWithParam<std::string> {
 protected:
  std::unique_ptr<Strategy> make() const {
    StrategyRegistry r;
    register_builtin_strategies(r);
    return r.create(GetParam());
  }
};

TEST_P(EveryStrategy, ProposesEveryValidConfigurationExactlyOnce) {
  const SearchSpace space = small_space();
  auto s = make();
  s->start(space, 7);
  const auto seq = drain(*s, 3);
  EXPECT_EQ(seq.size(), space.size());
  const std::set<std::size_t> unique(seq.begin(), seq.end());
  EXPECT_EQ(unique.size(), space.size());
  EXPECT_LT(*unique.rbegin(), space.size());
}

TEST_P(EveryStrategy, SameSeedSameSequence) {
  const SearchSpace space = small_space();
  auto a = make();
  auto b = make();
  a->start(space, 11);
  b->start(space, 11);
  EXPECT_EQ(drain(*a, 3), drain(*b, 3));
}

TEST_P(EveryStrategy, NonAdaptiveSequenceDoesNotDependOnTheBatchSize) {
  // A strategy that learns proposes differently when asked for 4 before hearing of any; one that
  // does not learn must not care.
  if (GetParam() != "brute_force" && GetParam() != "random") GTEST_SKIP();
  const SearchSpace space = small_space();
  auto a = make();
  auto b = make();
  a->start(space, 11);
  b->start(space, 11);
  EXPECT_EQ(drain(*a, 1), drain(*b, 4));
}

TEST_P(EveryStrategy, RestoredStateContinuesExactly) {
  const SearchSpace space = small_space();
  auto whole = make();
  whole->start(space, 3);
  const auto expected = drain(*whole, 1);

  auto first = make();
  first->start(space, 3);
  std::vector<std::size_t> got;
  for (int i = 0; i < 9; ++i) {
    auto p = first->ask(1);
    ASSERT_EQ(p.size(), 1u);
    first->tell({p[0], Status::Ok, 1.0});
    got.push_back(p[0]);
  }
  const nlohmann::json saved = nlohmann::json::parse(first->save_state().dump());
  auto resumed = make();
  resumed->start(space, 3);
  resumed->load_state(saved);
  const auto rest = drain(*resumed, 1);
  got.insert(got.end(), rest.begin(), rest.end());
  EXPECT_EQ(got, expected);
}

TEST_P(EveryStrategy, RejectsStateOfAnotherSpace) {
  const SearchSpace space = small_space();
  const SearchSpace other({{"x", {Value(1), Value(2)}}}, {});
  auto a = make();
  a->start(other, 1);
  const auto state = a->save_state();
  auto b = make();
  b->start(space, 1);
  EXPECT_THROW(b->load_state(state), Error);
}

std::vector<std::string> registered() {
  StrategyRegistry r;
  register_builtin_strategies(r);
  return r.names();
}

INSTANTIATE_TEST_SUITE_P(Builtin, EveryStrategy, ::testing::ValuesIn(registered()),
                         [](const auto& info) { return info.param; });

TEST(BruteForce, FollowsTheSpaceOrder) {
  const SearchSpace space = small_space();
  StrategyRegistry r;
  register_builtin_strategies(r);
  auto s = r.create("brute_force");
  s->start(space, 0);
  const auto seq = drain(*s, 5);
  for (std::size_t i = 0; i < seq.size(); ++i) EXPECT_EQ(seq[i], i);
}

TEST(RandomSearch, DifferentSeedsDifferentOrders) {
  const SearchSpace space = small_space();
  StrategyRegistry r;
  register_builtin_strategies(r);
  auto a = r.create("random");
  auto b = r.create("random");
  a->start(space, 1);
  b->start(space, 2);
  EXPECT_NE(drain(*a, 1), drain(*b, 1));
}

TEST(RandomSearch, FirstDrawIsUniform) {
  // Over many seeds, the first proposal should hit each of the n configurations about equally:
  // a chi-square statistic far above its n-1 degrees of freedom means a biased draw.
  const SearchSpace space({{"x",
                            {Value(0), Value(1), Value(2), Value(3), Value(4), Value(5), Value(6),
                             Value(7), Value(8), Value(9)}}},
                          {});
  StrategyRegistry r;
  register_builtin_strategies(r);
  std::vector<int> hits(space.size());
  const int trials = 20000;
  for (int seed = 0; seed < trials; ++seed) {
    auto s = r.create("random");
    s->start(space, static_cast<std::uint64_t>(seed));
    ++hits[s->ask(1).at(0)];
  }
  const double expected = static_cast<double>(trials) / space.size();
  double chi2 = 0;
  for (int h : hits) chi2 += (h - expected) * (h - expected) / expected;
  EXPECT_LT(chi2, 30.0);  // p < 0.001 for 9 degrees of freedom is 27.9
}

TEST(Registry, UnknownStrategyListsTheKnownOnes) {
  StrategyRegistry r;
  register_builtin_strategies(r);
  try {
    r.create("simulated_anealing");
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::UnknownName);
    EXPECT_NE(std::string(e.what()).find("brute_force, ensemble, genetic"), std::string::npos)
        << e.what();
  }
  EXPECT_THROW(r.add("random", "again", [] { return nullptr; }), Error);
}

}  // namespace
}  // namespace attune
