// Decision lookup in a tuning database of one million measurements (1,000 problems x 1,000
// configurations), from disk: an exact hit, a miss that falls back to the nearest problem, and a
// miss that falls all the way to the default; for scale, the same hit in an in-memory hash map
// (the dispatcher's first level) and the cost of hashing the key. The database is built once
// under $TMPDIR (or /tmp) and reused by later runs.

#include <benchmark/benchmark.h>

#include <cstdlib>
#include <filesystem>
#include <string>
#include <unordered_map>
#include <vector>

#include "attune/tuning_database.hpp"

namespace {

using namespace attune;
namespace fs = std::filesystem;

constexpr int kProblems = 1000;
constexpr int kConfigs = 1000;

const SearchSpace& space() {
  static const SearchSpace s = [] {
    std::vector<Value> a, b, c;
    for (int i = 0; i < 10; ++i) {
      a.emplace_back(1 << i);
      b.emplace_back(i + 1);
      c.emplace_back(i * 3);
    }
    return SearchSpace({{"block", a}, {"tile", b}, {"unroll", c}});
  }();
  return s;
}

DeviceInfo bench_device() {
  DeviceInfo d;
  d.kind = "cpu";
  d.name = "Benchmark CPU";
  d.architecture = "Benchmark family 1";
  d.features = {"avx2", "fma"};
  d.cores = 16;
  return d;
}

Problem problem(int i) {
  // Shapes spread over 64 .. ~65k so the nearest-problem rung has real work to do.
  return Problem({{"m", 64 + 61 * i}, {"n", 64 + 37 * (i % 97)}, {"k", 256 << (i % 5)}}, "f32");
}

TuningKey key(int i) {
  return TuningKey{
      bench_device(), {"bench.kernel/1", "", ""}, SpaceIdentity::of(space()), problem(i)};
}

fs::path database() {
  const char* tmp = std::getenv("TMPDIR");
  const fs::path file = fs::path(tmp && *tmp ? tmp : "/tmp") / "attune_bench_1m_v1.db";
  bool complete = false;
  if (fs::exists(file)) {
    TuningDatabase db(file);
    const auto keys = db.list();
    std::size_t n = 0;
    for (const auto& k : keys) n += k.measurements;
    complete = n == static_cast<std::size_t>(kProblems) * kConfigs;
  }
  if (!complete) {
    fs::remove(file);
    fs::remove(file.string() + "-wal");
    fs::remove(file.string() + "-shm");
    TuningDatabase db(file);
    for (int p = 0; p < kProblems; ++p) {
      std::vector<StoredMeasurement> records;
      records.reserve(kConfigs);
      for (int c = 0; c < kConfigs; ++c) {
        StoredMeasurement r;
        const Config config = space().at(static_cast<std::size_t>(c));
        r.config_key = config.key();
        r.config = config.to_json();
        const double t = 1e-4 * (1.0 + ((c * 7919 + p * 104729) % 1000) * 1e-3);
        r.measurement.samples_s = {t, t * 1.01, t * 0.99, t * 1.02, t * 0.98};
        r.measurement.summary = summarize(r.measurement.samples_s);
        r.source = "bench";
        records.push_back(std::move(r));
      }
      db.add_measurements(key(p), records);
    }
  }
  return file;
}

const fs::path& db_file() {
  static const fs::path file = database();
  return file;
}

void BM_LookupExactFromDisk(benchmark::State& state) {
  TuningDatabase db(db_file(), /*read_only=*/true);
  std::vector<TuningKey> keys;
  for (int i = 0; i < 64; ++i) keys.push_back(key(i * 15 + 3));
  std::size_t i = 0;
  for (auto _ : state) {
    LookupResult r = db.lookup(keys[i++ % keys.size()]);
    if (r.rung != LookupRung::Exact) state.SkipWithError("expected an exact hit");
    benchmark::DoNotOptimize(r);
  }
}
BENCHMARK(BM_LookupExactFromDisk);

void BM_DecisionByPrecomputedKeyFromDisk(benchmark::State& state) {
  // As lookup, but with the key's hash already computed: the SQLite part alone.
  TuningDatabase db(db_file(), /*read_only=*/true);
  std::vector<TuningKey> keys;
  for (int i = 0; i < 64; ++i) keys.push_back(key(i * 15 + 3));
  std::size_t i = 0;
  for (auto _ : state) {
    auto d = db.decision(keys[i++ % keys.size()]);
    benchmark::DoNotOptimize(d);
  }
}
BENCHMARK(BM_DecisionByPrecomputedKeyFromDisk);

void BM_LookupNearestProblemFromDisk(benchmark::State& state) {
  TuningDatabase db(db_file(), /*read_only=*/true);
  TuningKey k = key(0);
  k.problem = Problem({{"m", 5000}, {"n", 3000}, {"k", 1000}}, "f32");
  for (auto _ : state) {
    LookupResult r = db.lookup(k);
    if (r.rung != LookupRung::NearestProblem) state.SkipWithError("expected the nearest problem");
    benchmark::DoNotOptimize(r);
  }
}
BENCHMARK(BM_LookupNearestProblemFromDisk);

void BM_LookupMissToDefault(benchmark::State& state) {
  TuningDatabase db(db_file(), /*read_only=*/true);
  TuningKey k = key(0);
  k.kernel.id = "bench.unknown/1";
  for (auto _ : state) {
    LookupResult r = db.lookup(k);
    benchmark::DoNotOptimize(r);
  }
}
BENCHMARK(BM_LookupMissToDefault);

void BM_KeyHash(benchmark::State& state) {
  const TuningKey k = key(42);
  for (auto _ : state) benchmark::DoNotOptimize(k.hash());
}
BENCHMARK(BM_KeyHash);

void BM_InMemoryHit(benchmark::State& state) {
  // The dispatcher's first level: decisions loaded into a hash map keyed by the key's hash.
  TuningDatabase db(db_file(), /*read_only=*/true);
  std::unordered_map<std::string, Decision> cache;
  std::vector<std::string> hashes;
  for (int i = 0; i < kProblems; ++i) {
    const TuningKey k = key(i);
    if (auto d = db.decision(k)) cache.emplace(k.hash(), *d);
    if (i % 15 == 3) hashes.push_back(k.hash());
  }
  std::size_t i = 0;
  for (auto _ : state) {
    auto it = cache.find(hashes[i++ % hashes.size()]);
    benchmark::DoNotOptimize(it);
  }
}
BENCHMARK(BM_InMemoryHit);

}  // namespace
