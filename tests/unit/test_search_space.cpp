// The search space must reproduce the valid-configuration sets of real Kernel Tuner spaces key
// for key, keep Kernel Tuner's order, and answer lookups, neighbourhoods and samples exactly.

#include <gtest/gtest.h>
#include <zlib.h>

#include <algorithm>
#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "attune/error.hpp"
#include "attune/search_space.hpp"

#ifndef ATTUNE_TEST_DATA_DIR
#error "ATTUNE_TEST_DATA_DIR must name the tests/data folder"
#endif

namespace attune {
namespace {

nlohmann::json read_gzip_json(const std::string& path) {
  gzFile f = gzopen(path.c_str(), "rb");
  if (f == nullptr) throw std::runtime_error("cannot open " + path);
  std::string text;
  char buf[1 << 16];
  int n;
  while ((n = gzread(f, buf, sizeof buf)) > 0) text.append(buf, static_cast<std::size_t>(n));
  gzclose(f);
  return nlohmann::json::parse(text);
}

std::vector<Param> params_from(const nlohmann::json& space) {
  std::vector<Param> params;
  for (const auto& name : space["tune_params_keys"]) {
    Param p{name.get<std::string>(), {}};
    for (const auto& v : space["tune_params"][p.name]) p.values.push_back(Value::from_json(v));
    params.push_back(std::move(p));
  }
  return params;
}

std::vector<Param> hotspot_params() {
  std::vector<Value> bsx = {1, 2, 4, 8, 16};
  for (int v = 32; v <= 1024; v += 32) bsx.emplace_back(v);
  const auto range = [](int lo, int hi) {
    std::vector<Value> out;
    for (int v = lo; v <= hi; ++v) out.emplace_back(v);
    return out;
  };
  return {{"grid_width", {4096}},
          {"grid_height", {4096}},
          {"block_size_x", bsx},
          {"block_size_y", {1, 2, 4, 8, 16, 32}},
          {"tile_size_x", range(1, 10)},
          {"tile_size_y", range(1, 10)},
          {"temporal_tiling_factor", range(1, 10)},
          {"max_tfactor", {10}},
          {"loop_unroll_factor_t", range(1, 10)},
          {"sh_power", {0, 1}}};
}

const std::vector<Constraint> kHotspotConstraints = {
    "block_size_x*block_size_y>= 32",
    "temporal_tiling_factor % loop_unroll_factor_t == 0",
    "block_size_x*block_size_y <= 1024",
    "(block_size_x*tile_size_x+ temporal_tiling_factor * 2) * (block_size_y*tile_size_y+ "
    "temporal_tiling_factor * 2) * (2+sh_power) * 4 <= 49152",
};

struct RecordedSpace {
  std::string file;
  std::vector<Constraint> constraints;
  std::size_t expected_size;
};

// Names the case in test listings instead of dumping its bytes.
void PrintTo(const RecordedSpace& space, std::ostream* out) { *out << space.file; }

class RecordedSpaces : public ::testing::TestWithParam<RecordedSpace> {};

TEST_P(RecordedSpaces, ReproduceKernelTunerKeySetsExactly) {
  const RecordedSpace& rec = GetParam();
  const nlohmann::json data =
      read_gzip_json(std::string(ATTUNE_TEST_DATA_DIR) + "/spaces/" + rec.file);
  const std::vector<std::string> expected = data["keys"].get<std::vector<std::string>>();
  ASSERT_EQ(expected.size(), rec.expected_size);

  const SearchSpace space(params_from(data), rec.constraints);
  ASSERT_EQ(space.size(), rec.expected_size);
  std::vector<std::string> keys;
  for (std::size_t i = 0; i < space.size(); ++i) keys.push_back(space.at(i).key());
  std::sort(keys.begin(), keys.end());
  EXPECT_EQ(keys, expected);

  for (const std::string& key : expected) {
    const auto i = space.index_of_key(key);
    ASSERT_TRUE(i.has_value()) << key;
    EXPECT_EQ(space.at(*i).key(), key);
  }

  // Kernel Tuner order: value positions ascending lexicographically, first parameter slowest.
  for (std::size_t i = 0; i + 1 < space.size(); ++i) {
    const Config a = space.at(i);
    const Config b = space.at(i + 1);
    ASSERT_TRUE(std::lexicographical_compare(a.indices().begin(), a.indices().end(),
                                             b.indices().begin(), b.indices().end()));
  }
}

INSTANTIATE_TEST_SUITE_P(
    BenchmarkHub, RecordedSpaces,
    ::testing::Values(
        RecordedSpace{"convolution.json.gz",
                      {"use_padding==0 or block_size_x % 32 != 0",
                       "block_size_x*block_size_y<=1024", "use_padding==0 or use_shmem != 0",
                       "use_shmem == 0 or (((block_size_x*tile_size_x+(filter_width-1)))*(("
                       "block_size_y*tile_size_y+(filter_height-1)))) < 12*1024"},
                      4362},
        RecordedSpace{
            "dedispersion.json.gz",
            {"32 <= block_size_x * block_size_y <= 1024", "tile_size_x > 1 or tile_stride_x == 0",
             "tile_size_y > 1 or tile_stride_y == 0"},
            11130},
        RecordedSpace{"gemm.json.gz",
                      {"KWG % KWI == 0", "MWG % (MDIMC * VWM) == 0", "NWG % (NDIMC * VWN) == 0",
                       "MWG % (MDIMA * VWM) == 0", "NWG % (NDIMB * VWN) == 0",
                       "KWG % ((MDIMC * NDIMC)/MDIMA) == 0", "KWG % ((MDIMC * NDIMC)/NDIMB) == 0"},
                      17956}),
    [](const auto& info) { return info.param.file.substr(0, info.param.file.find('.')); });

TEST(SearchSpace, KernelTunerOrderOfTheFirstConvolutionConfigurations) {
  const nlohmann::json data =
      read_gzip_json(std::string(ATTUNE_TEST_DATA_DIR) + "/spaces/convolution.json.gz");
  const SearchSpace space(params_from(data),
                          {"use_padding==0 or block_size_x % 32 != 0",
                           "block_size_x*block_size_y<=1024", "use_padding==0 or use_shmem != 0"});
  // The order in which Kernel Tuner wrote these into its cache file.
  EXPECT_EQ(space.at(0).key(), "16,1,1,1,0,0,0,1,15,15");
  EXPECT_EQ(space.at(1).key(), "16,1,1,1,0,0,1,1,15,15");
  EXPECT_EQ(space.at(2).key(), "16,1,1,1,0,1,1,1,15,15");
}

TEST(SearchSpace, HotspotCountsAndRoundTripsEveryIndex) {
  const SearchSpace space(hotspot_params(), kHotspotConstraints);
  EXPECT_EQ(space.cartesian_size(), 4'440'000u);
  ASSERT_EQ(space.size(), 82'984u);
  for (std::size_t i = 0; i < space.size(); ++i) {
    const Config c = space.at(i);
    ASSERT_EQ(space.index_of(c), i);
    ASSERT_EQ(space.index_of_key(c.key()), i);
  }
  // A configuration that breaks a constraint has no index.
  const Config bad = space.config_from_json({{"grid_width", 4096},
                                             {"grid_height", 4096},
                                             {"block_size_x", 1},
                                             {"block_size_y", 1},
                                             {"tile_size_x", 1},
                                             {"tile_size_y", 1},
                                             {"temporal_tiling_factor", 1},
                                             {"max_tfactor", 10},
                                             {"loop_unroll_factor_t", 1},
                                             {"sh_power", 0}});
  EXPECT_FALSE(space.index_of(bad).has_value());
}

// x in [1,2,3,4], y in [10,20,30]; (2,20) and (4,30) are invalid. The valid configurations in
// order: 0 (1,10) 1 (1,20) 2 (1,30) 3 (2,10) 4 (2,30) 5 (3,10) 6 (3,20) 7 (3,30) 8 (4,10)
// 9 (4,20).
SearchSpace small_space() {
  return SearchSpace({{"x", {1, 2, 3, 4}}, {"y", {10, 20, 30}}},
                     {"not (x == 2 and y == 20)", "x + y // 10 != 7"});
}

TEST(SearchSpace, NeighbourhoodsOnAHandMadeSpace) {
  const SearchSpace space = small_space();
  ASSERT_EQ(space.size(), 10u);
  EXPECT_EQ(space.at(6).key(), "3,20");
  using V = std::vector<std::size_t>;
  EXPECT_EQ(space.neighbours(6, Neighbourhood::Hamming), (V{1, 5, 7, 9}));
  EXPECT_EQ(space.neighbours(6, Neighbourhood::Adjacent), (V{5, 7, 9}));
  EXPECT_EQ(space.neighbours(0, Neighbourhood::Hamming), (V{1, 2, 3, 5, 8}));
  EXPECT_EQ(space.neighbours(0, Neighbourhood::Adjacent), (V{1, 3}));
  EXPECT_EQ(space.neighbours(9, Neighbourhood::Hamming), (V{1, 6, 8}));
  EXPECT_EQ(space.neighbours(9, Neighbourhood::Adjacent), (V{6, 8}));
  EXPECT_THROW(space.neighbours(10, Neighbourhood::Hamming), Error);
}

TEST(SearchSpace, SampleIsUniformWithoutReplacement) {
  const SearchSpace space = small_space();
  std::mt19937_64 rng(42);
  std::vector<int> counts(space.size(), 0);
  constexpr int kRounds = 20000;
  for (int r = 0; r < kRounds; ++r) {
    const auto s = space.sample(rng, 4);
    ASSERT_EQ(s.size(), 4u);
    ASSERT_EQ(std::set<std::size_t>(s.begin(), s.end()).size(), 4u);
    for (std::size_t i : s) counts[i]++;
  }
  // Each index is drawn with probability 4/10: 8000 expected, standard deviation about 70.
  for (int c : counts) EXPECT_NEAR(c, kRounds * 4 / 10, 400);

  // First position uniform as well (the order is random, not just the set).
  std::vector<int> first(space.size(), 0);
  for (int r = 0; r < kRounds; ++r) first[space.sample(rng, 3)[0]]++;
  for (int c : first) EXPECT_NEAR(c, kRounds / 10, 250);

  EXPECT_EQ(space.sample(rng, 100).size(), 10u);  // clipped to size
  const auto all = space.sample(rng, 10);
  EXPECT_EQ(std::set<std::size_t>(all.begin(), all.end()).size(), 10u);
}

TEST(SearchSpace, SparseSampleOfALargeSpaceIsDistinctAndSeeded) {
  const SearchSpace space(hotspot_params(), kHotspotConstraints);
  std::mt19937_64 a(7);
  std::mt19937_64 b(7);
  const auto s = space.sample(a, 1000);
  EXPECT_EQ(s, space.sample(b, 1000));
  EXPECT_EQ(std::set<std::size_t>(s.begin(), s.end()).size(), 1000u);
  for (std::size_t i : s) EXPECT_LT(i, space.size());
}

TEST(SearchSpace, SignatureIsStableAndSeesEveryChange) {
  const auto make = [](std::vector<Param> params, std::vector<Constraint> constraints) {
    return SearchSpace(std::move(params), std::move(constraints)).signature();
  };
  const std::vector<Param> base = {{"x", {1, 2, 4}}, {"y", {0.5, 1.0}}, {"z", {"a", "b"}}};
  const std::uint64_t sig = make(base, {"x * y < 3"});
  EXPECT_EQ(sig, make(base, {"x * y < 3"}));

  auto changed_value = base;
  changed_value[0].values[2] = 8;
  EXPECT_NE(sig, make(changed_value, {"x * y < 3"}));
  auto int_for_float = base;
  int_for_float[1].values[1] = 2;
  EXPECT_NE(sig, make(int_for_float, {"x * y < 3"}));
  auto renamed = base;
  renamed[2].name = "w";
  EXPECT_NE(sig, make(renamed, {"x * y < 3"}));
  auto reordered = base;
  std::swap(reordered[1].values[0], reordered[1].values[1]);
  EXPECT_NE(sig, make(reordered, {"x * y < 3"}));
  EXPECT_NE(sig, make(base, {"x * y < 4"}));
  EXPECT_NE(sig, make(base, {}));
  EXPECT_NE(sig, make(base, {"x * y < 3", "x > 1"}));

  const auto pred = [](std::span<const Value> v) { return v[0].as_int() > 1; };
  EXPECT_EQ(make(base, {Constraint::predicate({"x"}, pred, "x>1")}),
            make(base, {Constraint::predicate({"x"}, pred, "x>1")}));
  EXPECT_NE(make(base, {Constraint::predicate({"x"}, pred, "x>1")}),
            make(base, {Constraint::predicate({"x"}, pred, "x>1 v2")}));
}

TEST(SearchSpace, PredicateConstraintsMatchTheirExpression) {
  const std::vector<Param> params = {
      {"a", {1, 2, 3, 4, 5, 6}}, {"b", {1, 2, 3, 4, 5, 6}}, {"c", {"x", "y"}}};
  const SearchSpace by_expression(params, {"b % a == 0 and (c == 'x' or a < b)"});
  const SearchSpace by_predicate(params, {Constraint::predicate(
                                             {"c", "b", "a"},
                                             [](std::span<const Value> v) {
                                               const auto c = v[0].as_string();
                                               const auto b = v[1].as_int();
                                               const auto a = v[2].as_int();
                                               return b % a == 0 && (c == "x" || a < b);
                                             },
                                             "divides")});
  ASSERT_EQ(by_expression.size(), by_predicate.size());
  EXPECT_EQ(by_expression.size(), 14u + 8u);  // 14 divisor pairs with c == 'x', 8 with a < b
  for (std::size_t i = 0; i < by_expression.size(); ++i) {
    EXPECT_EQ(by_expression.at(i).key(), by_predicate.at(i).key());
  }
}

TEST(SearchSpace, ConfigAccessors) {
  const SearchSpace space(
      {{"n", {16, 32}}, {"f", {0.5, 1.0}}, {"s", {"row", "col"}}, {"b", {false, true}}}, {});
  EXPECT_EQ(space.size(), 16u);
  EXPECT_EQ(space.param_index("s"), 2u);
  EXPECT_THROW(space.param_index("q"), Error);
  const Config c = space.at(space.size() - 1);
  EXPECT_EQ(c.key(), "32,1.0,col,True");
  EXPECT_EQ(c.int_of("n"), 32);
  EXPECT_EQ(c.double_of("f"), 1.0);
  EXPECT_EQ(c.string_of("s"), "col");
  EXPECT_EQ(c["b"], Value(true));
  EXPECT_EQ(c.value(0), Value(32));
  EXPECT_THROW(c.value(4), Error);
  EXPECT_THROW(c.int_of("s"), Error);
  try {
    (void)c["missing"];
    ADD_FAILURE() << "unknown name accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::UnknownName);
    EXPECT_NE(std::string(e.what()).find("n, f, s, b"), std::string::npos) << e.what();
  }
  EXPECT_EQ(c.to_json().dump(), R"({"n":32,"f":1.0,"s":"col","b":true})");

  const Config back = space.config_from_json(nlohmann::json::parse(c.to_json().dump()));
  EXPECT_EQ(back, c);
  EXPECT_EQ(space.index_of(back), space.size() - 1);
  EXPECT_EQ(space.config_from_json(c.to_json()), c);
  // Numbers match across int and float, as in Python.
  EXPECT_EQ(space.config_from_json({{"n", 32.0}, {"f", 1}, {"s", "col"}, {"b", true}}), c);

  try {
    space.config_from_json({{"n", 32}, {"f", 1.0}, {"s", "col"}, {"b", true}, {"q", 1}});
    ADD_FAILURE() << "unknown name accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::UnknownName);
  }
  try {
    space.config_from_json({{"n", 64}, {"f", 1.0}, {"s", "col"}, {"b", true}});
    ADD_FAILURE() << "value not in the list accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::InvalidArgument);
    EXPECT_NE(std::string(e.what()).find("value 64 of parameter 'n' is not one of its values: "
                                         "16, 32"),
              std::string::npos)
        << e.what();
  }
  EXPECT_THROW(space.config_from_json({{"n", 32}, {"f", 1.0}, {"s", "col"}}), Error);
  EXPECT_THROW(space.config_from_json(nlohmann::json::array()), Error);

  EXPECT_EQ(space.index_of_key("16,0.5,row,False"), 0u);
  EXPECT_FALSE(space.index_of_key("16,0.5,row").has_value());
  EXPECT_FALSE(space.index_of_key("16,0.5,row,False,1").has_value());
  EXPECT_FALSE(space.index_of_key("16,0.5,diag,False").has_value());
  EXPECT_FALSE(space.index_of_key("16,1,row,False").has_value());  // Kernel Tuner writes 1.0
  EXPECT_THROW(space.at(16), Error);

  const SearchSpace other(
      {{"n", {16, 32}}, {"f", {0.5, 1.0}}, {"s", {"row", "col"}}, {"b", {false, true}}});
  EXPECT_THROW(other.index_of(c), Error);
}

TEST(SearchSpace, EmptyAndConstantResults) {
  const SearchSpace none({{"x", {1, 2, 3}}}, {"x > 5"});
  EXPECT_EQ(none.size(), 0u);
  std::mt19937_64 rng(1);
  EXPECT_TRUE(none.sample(rng, 5).empty());
  EXPECT_EQ(SearchSpace({{"x", {1, 2, 3}}}, {"1 > 2"}).size(), 0u);
  EXPECT_EQ(SearchSpace({{"x", {1, 2, 3}}}, {"True or x > 5"}).size(), 3u);
  // Division by zero rules the configuration out instead of failing.
  EXPECT_EQ(SearchSpace({{"x", {0, 1, 2}}}, {"4 % x == 0"}).size(), 2u);
}

TEST(SearchSpace, ConstraintsSeeEveryCombinationOfFreeAndBoundParameters) {
  // Free parameters (read by no constraint) interleaved with constrained ones in declaration
  // order, so enumeration binds out of declaration order and must still store sorted codes.
  const std::vector<Param> params = {{"f1", {0, 1, 2}},   {"a", {1, 2, 3, 4, 5, 6, 7, 8}},
                                     {"f2", {"p", "q"}},  {"b", {1, 2, 3, 4, 5, 6, 7, 8}},
                                     {"c", {1, 2, 3, 4}}, {"f3", {7, 8}}};
  const SearchSpace space(params, {"a % c == 0", "a * b <= 16", "b > c"});
  std::size_t brute = 0;
  for (int a = 1; a <= 8; ++a) {
    for (int b = 1; b <= 8; ++b) {
      for (int c = 1; c <= 4; ++c) brute += (a % c == 0 && a * b <= 16 && b > c) ? 12 : 0;
    }
  }
  ASSERT_EQ(space.size(), brute);
  for (std::size_t i = 0; i < space.size(); ++i) ASSERT_EQ(space.index_of(space.at(i)), i);
  for (std::size_t i = 0; i + 1 < space.size(); ++i) {
    const Config x = space.at(i);
    const Config y = space.at(i + 1);
    ASSERT_TRUE(std::lexicographical_compare(x.indices().begin(), x.indices().end(),
                                             y.indices().begin(), y.indices().end()));
  }
}

TEST(SearchSpaceErrors, BadDefinitionsAreRejectedWithAClearMessage) {
  const auto code_of = [](auto&& build) {
    try {
      build();
    } catch (const Error& e) {
      return e.code();
    }
    return ErrorCode::Internal;
  };
  using Params = std::vector<Param>;
  using Constraints = std::vector<Constraint>;
  EXPECT_EQ(code_of([] {
              SearchSpace(Params{{"x", {1}}, {"x", {2}}});
            }),
            ErrorCode::InvalidArgument);
  EXPECT_EQ(code_of([] { SearchSpace(Params{{"x", {}}}); }), ErrorCode::InvalidArgument);
  EXPECT_EQ(code_of([] { SearchSpace(Params{{"x", {1, 2, 1}}}); }), ErrorCode::InvalidArgument);
  EXPECT_EQ(code_of([] { SearchSpace(Params{}); }), ErrorCode::InvalidArgument);
  EXPECT_EQ(code_of([] {
              SearchSpace(Params{{"x", {1}}}, Constraints{"y > 1"});
            }),
            ErrorCode::UnknownName);
  EXPECT_EQ(code_of([] {
              SearchSpace(Params{{"x", {1}}}, Constraints{"x >"});
            }),
            ErrorCode::ParseError);
  EXPECT_EQ(code_of([] {
              SearchSpace(Params{{"x", {1}}}, {Constraint::predicate(
                                                  {"y"}, [](auto) { return true; }, "p")});
            }),
            ErrorCode::UnknownName);
  EXPECT_EQ(code_of([] {
              Constraint::predicate(
                  {"x"}, [](auto) { return true; }, "");
            }),
            ErrorCode::InvalidArgument);
  EXPECT_EQ(code_of([] {
              SearchSpace(Params{{"x", {"a", "b"}}}, Constraints{"x < 1"});
            }),
            ErrorCode::InvalidArgument);

  std::vector<Param> huge;
  for (int p = 0; p < 64; ++p) huge.push_back({"p" + std::to_string(p), {0, 1, 2}});
  try {
    SearchSpace space(huge);
    ADD_FAILURE() << "3^64 configurations accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::InvalidArgument);
    EXPECT_NE(std::string(e.what()).find("exceeds 2^64"), std::string::npos) << e.what();
  }

  try {
    SearchSpace(Params{{"x", {1}}, {"x", {2}}});
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("parameter 'x' is declared twice"), std::string::npos);
  }
}

}  // namespace
}  // namespace attune
