// The tuning database: schema checks and clear errors for bad files, keys, runs committed and
// resumed, decisions and the lookup fallback chain, imports (all or nothing, truncated, capped,
// unknown kernel), the Kernel Tuner / T4 round trip, merging with anonymization, and two processes
// writing to one file at once.

#include <gtest/gtest.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <thread>

#include "attune/error.hpp"
#include "attune/evaluator.hpp"
#include "attune/strategy_registry.hpp"
#include "attune/tuner.hpp"
#include "attune/tuning_database.hpp"
#include "support/error_text.hpp"
#include "support/scripted_kernel.hpp"
#include "support/temp_dir.hpp"

namespace attune {
namespace {

namespace fs = std::filesystem;

using test_support::error_of;
using test_support::TempDir;

DeviceInfo device(const std::string& name, const std::string& arch = "TestVendor family 1") {
  DeviceInfo d;
  d.kind = "cpu";
  d.name = name;
  d.architecture = arch;
  d.features = {"avx2"};
  d.cores = 4;
  return d;
}

SearchSpace small_space() {
  return SearchSpace({{"tile", {Value(1), Value(2), Value(4), Value(8), Value(16), Value(32)}},
                      {"unroll", {Value(1), Value(2), Value(4)}}},
                     {Constraint("tile * unroll <= 64")});
}

Problem gemm_problem(std::int64_t m, std::int64_t n, std::int64_t k) {
  return Problem({{"m", m}, {"n", n}, {"k", k}}, "f32");
}

TuningKey key_for(const SearchSpace& space, const DeviceInfo& d, const Problem& p,
                  const std::string& kernel = "test.kernel/1") {
  return TuningKey{d, KernelIdentity{kernel, "", ""}, SpaceIdentity::of(space), p};
}

StoredMeasurement ok_measurement(const SearchSpace& space, std::size_t index, double seconds) {
  StoredMeasurement r;
  const Config c = space.at(index);
  r.config_key = c.key();
  r.config = c.to_json();
  r.measurement.status = Status::Ok;
  r.measurement.samples_s = {seconds, seconds * 1.01, seconds * 0.99};
  r.measurement.summary = summarize(r.measurement.samples_s);
  r.source = "test";
  return r;
}

// A scripted backend: time per call is a known function of the configuration.
using test_support::ScriptedKernel;

class ScriptedBackend final : public Backend {
 public:
  const DeviceInfo& device() const override { return device_; }
  std::string kernel_id() const override { return "test.scripted/1"; }
  Prepared prepare(const Config& c) override {
    ++prepares;
    Prepared p;
    if (c.int_of("tile") == 32) {
      p.status = Status::CompileFailed;
      p.message = "planted compile failure";
      return p;
    }
    const double tile = static_cast<double>(c.int_of("tile"));
    const double unroll = static_cast<double>(c.int_of("unroll"));
    p.kernel = std::make_unique<ScriptedKernel>(
        1e-3 * (1.0 + std::abs(std::log2(tile) - 3.0) + std::abs(unroll - 2.0)));
    return p;
  }
  int prepares = 0;

 private:
  DeviceInfo device_ = attune::device("scripted device");
};

HarnessOptions fast_harness() {
  HarnessOptions h;
  h.min_sample_s = 1e-3;
  h.max_measure_s = 0.05;
  return h;
}

std::size_t count_rows(const fs::path& file, const std::string& table) {
  sqlite3* db = nullptr;
  sqlite3_open_v2(file.c_str(), &db, SQLITE_OPEN_READONLY, nullptr);
  sqlite3_stmt* s = nullptr;
  sqlite3_prepare_v2(db, ("SELECT count(*) FROM " + table).c_str(), -1, &s, nullptr);
  std::size_t n = 0;
  if (sqlite3_step(s) == SQLITE_ROW) n = static_cast<std::size_t>(sqlite3_column_int64(s, 0));
  sqlite3_finalize(s);
  sqlite3_close(db);
  return n;
}

TEST(TuningDatabase, DefaultPathFollowsTheEnvironment) {
  const char* saved_db = std::getenv("ATTUNE_DB");
  const char* saved_xdg = std::getenv("XDG_CACHE_HOME");
  const std::string db_value = saved_db ? saved_db : "";
  const std::string xdg_value = saved_xdg ? saved_xdg : "";
  setenv("ATTUNE_DB", "/some/where.db", 1);
  EXPECT_EQ(TuningDatabase::default_path(), fs::path("/some/where.db"));
  unsetenv("ATTUNE_DB");
  setenv("XDG_CACHE_HOME", "/xdg", 1);
  EXPECT_EQ(TuningDatabase::default_path(), fs::path("/xdg/attune/tuning.db"));
  unsetenv("XDG_CACHE_HOME");
  EXPECT_EQ(TuningDatabase::default_path(),
            fs::path(std::getenv("HOME")) / ".cache" / "attune" / "tuning.db");
  if (saved_db) setenv("ATTUNE_DB", db_value.c_str(), 1);
  if (saved_xdg) setenv("XDG_CACHE_HOME", xdg_value.c_str(), 1);
}

TEST(TuningDatabase, CreatesItsDirectoryAndUsesWal) {
  TempDir dir;
  const fs::path file = dir / "nested/deeper/tuning.db";
  { TuningDatabase db(file); }
  ASSERT_TRUE(fs::exists(file));
  sqlite3* raw = nullptr;
  sqlite3_open(file.c_str(), &raw);
  sqlite3_stmt* s = nullptr;
  sqlite3_prepare_v2(raw, "PRAGMA journal_mode", -1, &s, nullptr);
  ASSERT_EQ(sqlite3_step(s), SQLITE_ROW);
  EXPECT_STREQ(reinterpret_cast<const char*>(sqlite3_column_text(s, 0)), "wal");
  sqlite3_finalize(s);
  sqlite3_prepare_v2(raw, "PRAGMA user_version", -1, &s, nullptr);
  ASSERT_EQ(sqlite3_step(s), SQLITE_ROW);
  EXPECT_EQ(sqlite3_column_int(s, 0), TuningDatabase::kSchemaVersion);
  sqlite3_finalize(s);
  sqlite3_close(raw);
}

TEST(TuningDatabase, RefusesANewerSchemaWithItsVersionInTheMessage) {
  TempDir dir;
  const fs::path file = dir / "t.db";
  { TuningDatabase db(file); }
  sqlite3* raw = nullptr;
  sqlite3_open(file.c_str(), &raw);
  sqlite3_exec(raw, "PRAGMA user_version=7", nullptr, nullptr, nullptr);
  sqlite3_close(raw);
  const std::string message = error_of([&] { TuningDatabase db(file); });
  EXPECT_NE(message.find("schema version 7"), std::string::npos) << message;
  EXPECT_NE(message.find(file.string()), std::string::npos) << message;
}

TEST(TuningDatabase, RefusesAFileThatIsNotADatabase) {
  TempDir dir;
  const fs::path file = dir / "notes.db";
  std::ofstream(file) << std::string(4096, 'x');
  const std::string message = error_of([&] { TuningDatabase db(file); });
  EXPECT_NE(message.find("is not an SQLite database"), std::string::npos) << message;
  EXPECT_NE(message.find(file.string()), std::string::npos) << message;
}

TEST(TuningDatabase, RefusesAnotherApplicationsDatabase) {
  TempDir dir;
  const fs::path file = dir / "other.db";
  sqlite3* raw = nullptr;
  sqlite3_open(file.c_str(), &raw);
  sqlite3_exec(raw, "CREATE TABLE t(x); INSERT INTO t VALUES(1)", nullptr, nullptr, nullptr);
  sqlite3_close(raw);
  const std::string message = error_of([&] { TuningDatabase db(file); });
  EXPECT_NE(message.find("not an attune tuning database"), std::string::npos) << message;
  EXPECT_EQ(count_rows(file, "t"), 1u);
}

TEST(TuningDatabase, ReportsACorruptFile) {
  TempDir dir;
  const fs::path file = dir / "t.db";
  {
    TuningDatabase db(file);
    const SearchSpace s = small_space();
    db.add_measurements(key_for(s, device("d"), gemm_problem(8, 8, 8)),
                        {ok_measurement(s, 0, 1e-3)});
    db.vacuum();
  }
  // Overwrite the schema page's contents, keeping the 100-byte file header intact.
  {
    std::fstream f(file, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(100);
    const std::string garbage(3000, '\x5a');
    f.write(garbage.data(), static_cast<std::streamsize>(garbage.size()));
  }
  const std::string message = error_of([&] {
    TuningDatabase db(file);
    (void)db.list();
  });
  EXPECT_NE(message.find(file.string()), std::string::npos) << message;
  EXPECT_TRUE(message.find("corrupt") != std::string::npos ||
              message.find("not an SQLite database") != std::string::npos)
      << message;
}

TEST(TuningDatabase, ReadOnlyLocationIsAClearError) {
  if (geteuid() == 0) GTEST_SKIP() << "root ignores directory permissions";
  TempDir dir;
  fs::create_directories(dir / "locked");
  fs::permissions(dir / "locked", fs::perms::owner_read | fs::perms::owner_exec);
  const std::string message = error_of([&] { TuningDatabase db(dir / "locked/t.db"); });
  EXPECT_NE(message.find("locked/t.db"), std::string::npos) << message;
  EXPECT_NE(message.find("writable"), std::string::npos) << message;
}

TEST(TuningKey, EveryPartChangesTheHash) {
  const SearchSpace s = small_space();
  const TuningKey base = key_for(s, device("a"), gemm_problem(8, 8, 8));
  std::set<std::string> hashes{base.hash()};
  TuningKey k = base;
  k.device.cores = 8;
  hashes.insert(k.hash());
  k = base;
  k.kernel.compile_options = "-O2";
  hashes.insert(k.hash());
  k = base;
  k.kernel.source = "__kernel void f() {}";
  hashes.insert(k.hash());
  k = base;
  k.problem = gemm_problem(8, 8, 9);
  hashes.insert(k.hash());
  k = base;
  k.space = SpaceIdentity::of(SearchSpace({{"tile", {Value(1), Value(2)}}}));
  hashes.insert(k.hash());
  EXPECT_EQ(hashes.size(), 6u);
  EXPECT_EQ(base.hash(), key_for(s, device("a"), gemm_problem(8, 8, 8)).hash());
  EXPECT_TRUE(base.hash().starts_with("v1:"));
  EXPECT_EQ(base.hash().size(), 3u + 32u);
}

TEST(ProblemDistance, IsTheL1DistanceOfLog2Sizes) {
  EXPECT_DOUBLE_EQ(*problem_distance(gemm_problem(512, 512, 512), gemm_problem(1024, 1024, 1024)),
                   3.0);
  EXPECT_DOUBLE_EQ(*problem_distance(gemm_problem(1024, 256, 64), gemm_problem(1024, 1024, 64)),
                   2.0);
  EXPECT_DOUBLE_EQ(*problem_distance(gemm_problem(7, 7, 7), gemm_problem(7, 7, 7)), 0.0);
  EXPECT_FALSE(problem_distance(gemm_problem(8, 8, 8), Problem({{"m", 8}, {"n", 8}}, "f32")));
  EXPECT_FALSE(
      problem_distance(gemm_problem(8, 8, 8), Problem({{"m", 8}, {"n", 8}, {"k", 8}}, "f64")));
}

TEST(TuningDatabase, DecisionIsTheFastestOkMeasurement) {
  TempDir dir;
  TuningDatabase db(dir / "t.db");
  const SearchSpace s = small_space();
  const TuningKey key = key_for(s, device("d"), gemm_problem(64, 64, 64));
  StoredMeasurement failed = ok_measurement(s, 1, 1e-9);
  failed.measurement.status = Status::VerifyFailed;
  db.add_measurements(key, {ok_measurement(s, 0, 3e-3), failed, ok_measurement(s, 2, 2e-3)});
  db.add_measurements(key, {ok_measurement(s, 3, 2.5e-3)});
  const auto d = db.decision(key);
  ASSERT_TRUE(d);
  EXPECT_EQ(d->config_key, s.at(2).key());
  EXPECT_DOUBLE_EQ(d->objective_s, summarize(std::vector<double>{2e-3, 2.02e-3, 1.98e-3}).median);
  EXPECT_EQ(db.measurements(key.hash()).size(), 4u);
  const auto latest = db.latest_measurements(key);
  EXPECT_EQ(latest.size(), 4u);
  EXPECT_EQ(latest[1].measurement.status, Status::VerifyFailed);
}

TEST(TuningDatabase, LookupFallsBackRungByRung) {
  TempDir dir;
  TuningDatabase db(dir / "t.db");
  const SearchSpace s = small_space();
  const DeviceInfo here = device("Here CPU");
  const DeviceInfo sibling = device("Sibling CPU");  // same architecture string
  const DeviceInfo elsewhere = device("Other CPU", "OtherVendor family 9");
  db.add_measurements(key_for(s, here, gemm_problem(512, 512, 512)), {ok_measurement(s, 4, 1e-3)});
  db.add_measurements(key_for(s, here, gemm_problem(4096, 4096, 4096)),
                      {ok_measurement(s, 5, 1e-3)});
  db.add_measurements(key_for(s, sibling, gemm_problem(300, 300, 300)),
                      {ok_measurement(s, 6, 1e-3)});

  LookupResult exact = db.lookup(key_for(s, here, gemm_problem(512, 512, 512)));
  EXPECT_EQ(exact.rung, LookupRung::Exact);
  EXPECT_EQ(exact.decision->config_key, s.at(4).key());

  // 1024 is 3 (log2 units) from 512 and 6 from 4096.
  LookupResult near = db.lookup(key_for(s, here, gemm_problem(1024, 1024, 1024)));
  EXPECT_EQ(near.rung, LookupRung::NearestProblem);
  EXPECT_EQ(near.decision->config_key, s.at(4).key());
  EXPECT_EQ(near.problem_key, "m=512,n=512,k=512;f32");
  EXPECT_DOUBLE_EQ(near.distance, 3.0);
  LookupResult big = db.lookup(key_for(s, here, gemm_problem(3000, 3000, 3000)));
  EXPECT_EQ(big.decision->config_key, s.at(5).key());

  // A device of the same architecture with nothing stored gets the sibling's nearest problem.
  const DeviceInfo newcomer = device("New CPU");
  LookupResult arch = db.lookup(key_for(s, newcomer, gemm_problem(300, 300, 300)));
  EXPECT_EQ(arch.rung, LookupRung::SameArchitecture);
  EXPECT_EQ(arch.device_name, "Sibling CPU") << arch.device_name;
  EXPECT_EQ(arch.decision->config_key, s.at(6).key());

  EXPECT_EQ(db.lookup(key_for(s, elsewhere, gemm_problem(512, 512, 512))).rung,
            LookupRung::Default);
  // A different kernel never borrows another kernel's decisions.
  LookupResult other_kernel = db.lookup(key_for(s, here, gemm_problem(512, 512, 512), "x/2"));
  EXPECT_EQ(other_kernel.rung, LookupRung::Default);
  EXPECT_FALSE(other_kernel.decision);
  // Nor a changed space.
  const SearchSpace changed({{"tile", {Value(1), Value(2), Value(4)}}, {"unroll", {Value(1)}}});
  EXPECT_EQ(db.lookup(key_for(changed, here, gemm_problem(512, 512, 512))).rung,
            LookupRung::Default);
}

TEST(TuningDatabase, RunCommitsEveryEvaluationAndResumesWhereItStopped) {
  TempDir dir;
  const fs::path file = dir / "t.db";
  const SearchSpace s = small_space();
  StrategyRegistry registry;
  register_builtin_strategies(registry);
  const TuningKey key = key_for(s, device("d"), gemm_problem(8, 8, 8), "test.scripted/1");

  auto tune = [&](std::size_t budget, bool with_db) {
    ScriptedBackend backend;
    Evaluator evaluator(backend, Harness(fast_harness()));
    auto strategy = registry.create("random");
    TuneOptions options;
    options.seed = 11;
    options.budget.evaluations = budget;
    std::optional<TuningDatabase> db;
    StoredRun run;
    if (with_db) {
      db.emplace(file);
      run = db->open_run(key, "random", 11, s);
      options.resume = run.checkpoint;
      options.commit = [&](const Evaluation& e, const nlohmann::json& state) {
        db->commit_evaluation(run.id, e, s.at(e.index), state);
      };
    }
    TuneResult r = Tuner(s, evaluator, *strategy, options).run();
    if (db) db->finish_run(run.id, r.stop_reason, r.elapsed_s);
    return std::make_pair(r, backend.prepares);
  };

  const auto [first, first_prepares] = tune(5, true);
  EXPECT_EQ(first_prepares, 5);
  const auto [resumed, resumed_prepares] = tune(9, true);
  EXPECT_EQ(resumed_prepares, 4) << "nothing already measured may be measured again";
  const auto [whole, whole_prepares] = tune(9, false);
  ASSERT_EQ(resumed.evaluations.size(), 9u);
  ASSERT_EQ(whole.evaluations.size(), 9u);
  for (std::size_t i = 0; i < 9; ++i) {
    EXPECT_EQ(resumed.evaluations[i].index, whole.evaluations[i].index) << i;
    EXPECT_EQ(resumed.evaluations[i].measurement.status, whole.evaluations[i].measurement.status);
    if (whole.evaluations[i].measurement.ok()) {
      EXPECT_DOUBLE_EQ(resumed.evaluations[i].measurement.objective(),
                       whole.evaluations[i].measurement.objective());
    }
  }
  TuningDatabase db(file);
  const StoredRun stored = db.open_run(key, "random", 11, s);
  EXPECT_EQ(stored.checkpoint.evaluations.size(), 9u);
  EXPECT_EQ(stored.stop_reason, "evaluation budget spent");
  EXPECT_EQ(stored.checkpoint.strategy_state["drawn"], 9);
  // A run of another seed is a different run.
  EXPECT_TRUE(db.open_run(key, "random", 12, s).checkpoint.evaluations.empty());
}

TEST(TuningDatabase, FailedAndKnownConfigurationsAreRecalledNotMeasured) {
  TempDir dir;
  TuningDatabase db(dir / "t.db");
  const SearchSpace s = small_space();
  const TuningKey key = key_for(s, device("d"), gemm_problem(8, 8, 8), "test.scripted/1");
  StrategyRegistry registry;
  register_builtin_strategies(registry);
  auto run_once = [&](std::uint64_t seed) {
    ScriptedBackend backend;
    Evaluator evaluator(backend, Harness(fast_harness()));
    auto strategy = registry.create("brute_force");
    StoredRun run = db.open_run(key, "brute_force", seed, s);
    std::map<std::size_t, Measurement> known;
    for (auto& m : db.latest_measurements(key))
      known[*s.index_of_key(m.config_key)] = m.measurement;
    TuneOptions options;
    options.seed = seed;
    options.resume = run.checkpoint;
    options.recall = [&](std::size_t i) -> std::optional<Measurement> {
      auto it = known.find(i);
      return it == known.end() ? std::nullopt : std::optional<Measurement>(it->second);
    };
    options.commit = [&](const Evaluation& e, const nlohmann::json& state) {
      db.commit_evaluation(run.id, e, s.at(e.index), state);
    };
    TuneResult r = Tuner(s, evaluator, *strategy, options).run();
    return std::make_pair(r, backend.prepares);
  };
  const auto [first, measured_first] = run_once(1);
  EXPECT_EQ(measured_first, static_cast<int>(s.size()));
  const auto [second, measured_second] = run_once(2);
  EXPECT_EQ(measured_second, 0);
  EXPECT_EQ(second.evaluations.size(), s.size());
  std::size_t compile_failed = 0;
  for (const auto& e : second.evaluations) {
    EXPECT_TRUE(e.recalled);
    if (e.measurement.status == Status::CompileFailed) ++compile_failed;
  }
  EXPECT_EQ(compile_failed, 2u);
  EXPECT_EQ(db.measurements(key.hash()).size(), s.size()) << "a recall adds no measurement";
}

TEST(TuningDatabase, TwoProcessesWritingAtOnceLoseNothing) {
  TempDir dir;
  const fs::path file = dir / "shared.db";
  { TuningDatabase db(file); }
  const SearchSpace s = small_space();
  constexpr int kWriters = 3;
  constexpr int kBatches = 60;
  std::vector<pid_t> children;
  for (int w = 0; w < kWriters; ++w) {
    const pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      int code = 0;
      try {
        TuningDatabase db(file);
        for (int b = 0; b < kBatches; ++b) {
          const TuningKey key =
              key_for(s, device("writer " + std::to_string(w)), gemm_problem(8 + b % 5, 8, 8));
          db.add_measurements(
              key, {ok_measurement(s, static_cast<std::size_t>(b) % s.size(), 1e-3 * (1 + w)),
                    ok_measurement(s, 0, 2e-3)});
        }
      } catch (const std::exception& e) {
        std::fprintf(stderr, "writer %d: %s\n", w, e.what());
        code = 1;
      }
      _exit(code);
    }
    children.push_back(pid);
  }
  // A reader alongside the writers always sees whole transactions: measurements come in pairs.
  for (int i = 0; i < 20; ++i) {
    TuningDatabase reader(file, /*read_only=*/true);
    std::size_t total = 0;
    for (const auto& k : reader.list()) {
      EXPECT_EQ(k.measurements % 2, 0u) << k.key_hash;
      total += k.measurements;
    }
    EXPECT_EQ(total % 2, 0u);
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  for (pid_t pid : children) {
    int status = 0;
    waitpid(pid, &status, 0);
    ASSERT_TRUE(WIFEXITED(status));
    EXPECT_EQ(WEXITSTATUS(status), 0);
  }
  TuningDatabase db(file, /*read_only=*/true);
  EXPECT_EQ(count_rows(file, "measurements"), static_cast<std::size_t>(kWriters * kBatches * 2));
  EXPECT_EQ(db.list().size(), static_cast<std::size_t>(kWriters * 5));
}

fs::path data_file(const std::string& name) {
  return fs::path(ATTUNE_TEST_DATA_DIR) / "recorded" / name;
}

std::string gzip_prefix(const fs::path& file, std::size_t keep_bytes, const fs::path& out) {
  gzFile in = gzopen(file.c_str(), "rb");
  std::string text(keep_bytes, '\0');
  const int n = gzread(in, text.data(), static_cast<unsigned>(keep_bytes));
  gzclose(in);
  text.resize(static_cast<std::size_t>(std::max(n, 0)));
  std::ofstream(out, std::ios::binary) << text;
  return text;
}

std::map<std::string, std::optional<double>> times_by_key(const RecordedSpace& space) {
  std::map<std::string, std::optional<double>> out;
  for (const auto& e : space.entries) {
    std::map<std::string, std::string> named;
    std::string key;
    for (std::size_t i = 0; i < e.values.size(); ++i) {
      key += space.params[i].name + "=" + e.values[i].to_string() + ";";
    }
    out[key] = e.time_ms;
  }
  return out;
}

void expect_round_trip(const fs::path& file, const fs::path& work) {
  SCOPED_TRACE(file.string());
  TuningDatabase db(work / "rt.db");
  const RecordedSpace original = read_recorded_space(file);
  const ImportReport report = db.import_recorded(original, file.string());
  EXPECT_EQ(report.imported, original.entries.size());
  const auto expected = times_by_key(original);
  for (const std::string format : {"kt", "t4"}) {
    SCOPED_TRACE(format);
    const RecordedSpace exported = db.export_recorded(report.key_hash);
    const nlohmann::ordered_json j =
        format == "kt" ? to_kernel_tuner_json(exported) : to_t4_json(exported);
    const fs::path out = work / ("out." + format + ".json");
    std::ofstream(out) << j.dump();
    const RecordedSpace back = read_recorded_space(out);
    EXPECT_EQ(back.format, format == "kt" ? "kernel_tuner" : "t4");
    EXPECT_EQ(back.entries.size(), original.entries.size());
    const auto got = times_by_key(back);
    ASSERT_EQ(got.size(), expected.size());
    std::size_t differing = 0;
    for (const auto& [key, time] : expected) {
      auto it = got.find(key);
      ASSERT_NE(it, got.end()) << key;
      ASSERT_EQ(it->second.has_value(), time.has_value()) << key;
      if (time && std::abs(*it->second - *time) > 1e-12 * std::abs(*time)) ++differing;
    }
    EXPECT_EQ(differing, 0u);
  }
  // Importing the same file again adds nothing: duplicates collapse.
  EXPECT_EQ(db.import_recorded(original, file.string()).imported, 0u);
}

TEST(Interchange, RoundTripOfTheBundledFiles) {
  TempDir dir;
  expect_round_trip(data_file("pnpoly_rtx3090.json.gz"), dir.path());
  fs::remove(dir / "rt.db");
  expect_round_trip(data_file("coulomb3d_rtx2080ti_t4.json.gz"), dir.path());
}

TEST(Interchange, RoundTripOfEveryFileInTheSharedDataWhenPresent) {
  const fs::path shared = fs::path(ATTUNE_TEST_DATA_DIR) / "../../../shared/data/spaces";
  if (!fs::exists(shared)) GTEST_SKIP() << shared << " is absent (only in the development tree)";
  std::size_t files = 0;
  for (const auto& entry : fs::directory_iterator(shared)) {
    if (!entry.path().string().ends_with(".json.gz")) continue;
    TempDir dir;
    expect_round_trip(entry.path(), dir.path());
    ++files;
  }
  EXPECT_GE(files, 6u);
}

TEST(Interchange, ImportIsAllOrNothingAndBadInputIsExplained) {
  TempDir dir;
  const fs::path file = dir / "t.db";
  TuningDatabase db(file);
  const fs::path pnpoly = data_file("pnpoly_rtx3090.json.gz");
  const RecordedSpace good = read_recorded_space(pnpoly);
  db.import_recorded(good, pnpoly.string());
  const std::size_t before = count_rows(file, "measurements");

  // Over the cap: the message gives the cap.
  const std::string capped = error_of([&] { read_recorded_space(pnpoly, 1000); });
  EXPECT_NE(capped.find("1000"), std::string::npos) << capped;
  EXPECT_NE(capped.find("pnpoly"), std::string::npos) << capped;

  // An attune kernel this build does not have.
  RecordedSpace unknown = good;
  unknown.kernel_name = "attune.cuda.nonexistent/3";
  const std::string message = error_of([&] { db.import_recorded(unknown, "x.json"); });
  EXPECT_NE(message.find("attune.cuda.nonexistent/3"), std::string::npos) << message;
  EXPECT_NE(message.find("x.json"), std::string::npos) << message;
  RecordedSpace nameless = good;
  nameless.kernel_name.clear();
  EXPECT_NE(error_of([&] { db.import_recorded(nameless, "y.json"); }).find("--kernel"),
            std::string::npos);
  // An entry whose value cannot be stored fails the whole import, which then leaves no trace.
  RecordedSpace broken = good;
  broken.kernel_name = "another_kernel";
  broken.entries.back().values.pop_back();
  broken.params.push_back(Param{"extra", {Value(1)}});
  const std::string arity = error_of([&] { db.import_recorded(broken, "z.json"); });
  EXPECT_NE(arity.find("nothing was imported"), std::string::npos) << arity;
  EXPECT_EQ(count_rows(file, "measurements"), before);
  EXPECT_EQ(db.list().size(), 1u);

  // Not JSON at all.
  std::ofstream(dir / "garbage.json") << "this is not json";
  EXPECT_NE(error_of([&] { read_recorded_space(dir / "garbage.json"); }).find("garbage.json"),
            std::string::npos);
}

TEST(Interchange, TruncatedKernelTunerCacheKeepsTheCompleteEntries) {
  TempDir dir;
  const fs::path pnpoly = data_file("pnpoly_rtx3090.json.gz");
  gzip_prefix(pnpoly, 200000, dir / "cut.json");
  const RecordedSpace cut = read_recorded_space(dir / "cut.json");
  ASSERT_TRUE(cut.truncated);
  ASSERT_GT(cut.entries.size(), 10u);
  TuningDatabase db(dir / "t.db");
  const ImportReport r = db.import_recorded(cut, "cut.json");
  EXPECT_TRUE(r.truncated);
  EXPECT_EQ(r.imported, cut.entries.size());
  EXPECT_EQ(db.measurements(r.key_hash).size(), cut.entries.size());
}

TEST(Merge, DuplicatesCollapseConflictsAreKeptAndNamesAnonymized) {
  TempDir dir;
  const SearchSpace s = small_space();
  const TuningKey key = key_for(s, device("Shared CPU"), gemm_problem(64, 64, 64));
  {
    TuningDatabase a(dir / "a.db");
    a.add_measurements(key, {ok_measurement(s, 0, 3e-3), ok_measurement(s, 1, 2e-3)});
    TuningDatabase b(dir / "b.db");
    // The same configuration measured on another machine: a conflict, both kept.
    b.add_measurements(key, {ok_measurement(s, 1, 1e-3)});
    b.add_measurements(key_for(s, device("Shared CPU"), gemm_problem(32, 32, 32)),
                       {ok_measurement(s, 2, 1e-3)});
  }
  const MergeReport r = TuningDatabase::merge({dir / "a.db", dir / "b.db", dir / "a.db"},
                                              dir / "out.db", /*anonymize=*/true, "salt");
  EXPECT_EQ(r.inputs, 3u);
  EXPECT_EQ(r.measurements_read, 6u);
  EXPECT_EQ(r.measurements_added, 4u);
  EXPECT_EQ(r.keys, 2u);
  TuningDatabase out(dir / "out.db");
  const auto all = out.measurements(key.hash());
  ASSERT_EQ(all.size(), 3u);
  for (const auto& m : all) {
    EXPECT_TRUE(m.host.starts_with("anon:")) << m.host;
    EXPECT_EQ(m.host.size(), 5u + 64u);
    EXPECT_TRUE(m.user.starts_with("anon:")) << m.user;
  }
  EXPECT_EQ(all[0].host, all[1].host) << "one salt per merge: one machine stays one machine";
  const auto d = out.decision(key);
  ASSERT_TRUE(d);
  EXPECT_EQ(d->config_key, s.at(1).key());
  EXPECT_NEAR(d->objective_s, 1e-3, 1e-12);
  const auto summary = out.find_key(key.hash().substr(3, 10));
  EXPECT_EQ(summary.device_name, "Shared CPU") << "the device model stays";
  // Merging the result again changes nothing.
  EXPECT_EQ(TuningDatabase::merge({dir / "out.db"}, dir / "out2.db", false).measurements_added, 4u);
  EXPECT_EQ(TuningDatabase::merge({dir / "out2.db"}, dir / "out.db", false).measurements_added, 0u);
}

TEST(Prune, RemovesFailuresAndTheRunsThatUsedThem) {
  TempDir dir;
  TuningDatabase db(dir / "t.db");
  const SearchSpace s = small_space();
  const TuningKey key = key_for(s, device("d"), gemm_problem(8, 8, 8));
  StoredMeasurement failed = ok_measurement(s, 1, 1e-3);
  failed.measurement.status = Status::RuntimeFailed;
  db.add_measurements(key, {ok_measurement(s, 0, 3e-3), failed});
  EXPECT_EQ(db.prune(std::nullopt, true), 1u);
  EXPECT_EQ(db.measurements(key.hash()).size(), 1u);
  EXPECT_TRUE(db.decision(key));
  EXPECT_EQ(db.prune(0.0, false), 0u) << "a key touched now is not older than 0 days";
  EXPECT_EQ(db.prune(-1.0, false), 1u);
  EXPECT_FALSE(db.decision(key));
}

}  // namespace
}  // namespace attune
