// The SQLite tuning database: schema creation and migration on open, the identities a result is
// keyed by, one transaction per committed evaluation (measurement, run sequence, strategy state
// and decision together), lookups with fallback, imports (all or nothing), exports, pruning and
// merging. Every SQLite call goes through db/sqlite.hpp, which names the file in every error.

#include "attune/tuning_database.hpp"

#include <pwd.h>
#include <unistd.h>
#include <xxhash.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <ctime>
#include <random>
#include <unordered_map>

#include "attune/error.hpp"
#include "db/anonymize.hpp"
#include "db/sqlite.hpp"

namespace attune {
namespace {

using detail::SqliteConnection;
using detail::SqliteStatement;
using detail::with_write_transaction;

// 'attu': marks a file as an attune tuning database, so another application's SQLite file is
// refused instead of being written into.
constexpr std::int32_t kApplicationId = 0x61747475;

// Schema steps: kMigrations[v] takes a database from version v to v + 1. A new schema version
// appends a step here; files written by older builds are brought forward on open.
constexpr const char* kMigrations[] = {
    R"sql(
CREATE TABLE devices(
  id INTEGER PRIMARY KEY, fingerprint TEXT NOT NULL UNIQUE, kind TEXT NOT NULL,
  name TEXT NOT NULL, architecture TEXT NOT NULL, info TEXT NOT NULL);
CREATE TABLE kernels(
  id INTEGER PRIMARY KEY, fingerprint TEXT NOT NULL UNIQUE, name TEXT NOT NULL,
  info TEXT NOT NULL);
CREATE TABLE spaces(
  id INTEGER PRIMARY KEY, signature TEXT NOT NULL UNIQUE, definition TEXT NOT NULL);
CREATE TABLE problems(
  id INTEGER PRIMARY KEY, key TEXT NOT NULL UNIQUE, definition TEXT NOT NULL);
CREATE TABLE tuning_keys(
  id INTEGER PRIMARY KEY, hash TEXT NOT NULL UNIQUE,
  device_id INTEGER NOT NULL REFERENCES devices(id),
  kernel_id INTEGER NOT NULL REFERENCES kernels(id),
  space_id INTEGER NOT NULL REFERENCES spaces(id),
  problem_id INTEGER NOT NULL REFERENCES problems(id),
  recorded TEXT, updated_at TEXT NOT NULL);
CREATE INDEX tuning_keys_scope ON tuning_keys(kernel_id, space_id, device_id);
CREATE TABLE measurements(
  id INTEGER PRIMARY KEY, digest TEXT NOT NULL UNIQUE,
  key_id INTEGER NOT NULL REFERENCES tuning_keys(id),
  config_key TEXT NOT NULL, config TEXT NOT NULL, status TEXT NOT NULL, message TEXT NOT NULL,
  objective_s REAL, samples_s TEXT NOT NULL, calls_per_sample INTEGER NOT NULL,
  summary TEXT NOT NULL, rechecked INTEGER NOT NULL, compile_s REAL NOT NULL,
  verify_s REAL NOT NULL, measure_s REAL NOT NULL, measured_at TEXT NOT NULL,
  host TEXT NOT NULL, user TEXT NOT NULL, source TEXT NOT NULL, extra TEXT);
CREATE INDEX measurements_by_key ON measurements(key_id, config_key);
CREATE TABLE runs(
  id INTEGER PRIMARY KEY, hash TEXT NOT NULL UNIQUE,
  key_id INTEGER NOT NULL REFERENCES tuning_keys(id), strategy TEXT NOT NULL,
  seed INTEGER NOT NULL, evaluations INTEGER NOT NULL DEFAULT 0, strategy_state TEXT,
  elapsed_s REAL NOT NULL DEFAULT 0, stop_reason TEXT, started_at TEXT NOT NULL,
  updated_at TEXT NOT NULL, host TEXT NOT NULL, user TEXT NOT NULL);
CREATE TABLE run_evaluations(
  run_id INTEGER NOT NULL REFERENCES runs(id), seq INTEGER NOT NULL,
  measurement_id INTEGER NOT NULL REFERENCES measurements(id),
  strategy_s REAL NOT NULL, elapsed_s REAL NOT NULL, recalled INTEGER NOT NULL,
  PRIMARY KEY(run_id, seq));
CREATE INDEX run_evaluations_by_measurement ON run_evaluations(measurement_id);
CREATE TABLE decisions(
  key_id INTEGER PRIMARY KEY REFERENCES tuning_keys(id),
  measurement_id INTEGER NOT NULL REFERENCES measurements(id),
  config_key TEXT NOT NULL, config TEXT NOT NULL, objective_s REAL NOT NULL,
  updated_at TEXT NOT NULL);
)sql",
};
static_assert(std::size(kMigrations) == TuningDatabase::kSchemaVersion);

std::string hex128(XXH128_hash_t h) {
  char text[33];
  std::snprintf(text, sizeof text, "%016llx%016llx", static_cast<unsigned long long>(h.high64),
                static_cast<unsigned long long>(h.low64));
  return text;
}

// Length-prefixed parts, so that ("ab", "c") and ("a", "bc") hash differently.
std::string hash_parts(std::initializer_list<std::string_view> parts) {
  XXH3_state_t* state = XXH3_createState();
  XXH3_128bits_reset(state);
  for (std::string_view p : parts) {
    const std::uint64_t n = p.size();
    XXH3_128bits_update(state, &n, sizeof n);
    XXH3_128bits_update(state, p.data(), p.size());
  }
  const std::string out = hex128(XXH3_128bits_digest(state));
  XXH3_freeState(state);
  return out;
}

std::string hex64(std::uint64_t v) {
  char text[17];
  std::snprintf(text, sizeof text, "%016llx", static_cast<unsigned long long>(v));
  return text;
}

std::string now_iso() {
  const auto now = std::chrono::system_clock::now();
  const std::time_t t = std::chrono::system_clock::to_time_t(now);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return text;
}

std::string iso_days_ago(double days) {
  const auto then =
      std::chrono::system_clock::now() - std::chrono::duration_cast<std::chrono::seconds>(
                                             std::chrono::duration<double>(days * 86400.0));
  const std::time_t t = std::chrono::system_clock::to_time_t(then);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return text;
}

std::string host_name() {
  char text[256] = {};
  if (gethostname(text, sizeof text - 1) != 0) return "unknown";
  return text;
}

std::string user_name() {
  if (const char* u = std::getenv("USER"); u && *u) return u;
  if (const passwd* pw = getpwuid(getuid())) return pw->pw_name;
  return std::to_string(getuid());
}

// Distinguishes measurements taken in different processes: two runs can measure the same
// configuration in the same second with identical (scripted) samples and must still both be kept.
// The process id is read at every call because a forked child inherits the parent's random part.
std::string measurement_nonce() {
  static const std::uint64_t random_part = [] {
    std::random_device rd;
    return (static_cast<std::uint64_t>(rd()) << 32) ^ rd();
  }();
  static std::uint64_t counter = 0;
  return hex64(random_part) + ":" + std::to_string(getpid()) + ":" + std::to_string(++counter);
}

nlohmann::json summary_json(const Summary& s) {
  return {{"count", s.count}, {"median", s.median}, {"min", s.min},       {"max", s.max},
          {"mean", s.mean},   {"stddev", s.stddev}, {"ci_low", s.ci_low}, {"ci_high", s.ci_high}};
}

Summary summary_from_json(const nlohmann::json& j) {
  Summary s;
  s.count = j.value("count", std::size_t{0});
  s.median = j.value("median", 0.0);
  s.min = j.value("min", 0.0);
  s.max = j.value("max", 0.0);
  s.mean = j.value("mean", 0.0);
  s.stddev = j.value("stddev", 0.0);
  s.ci_low = j.value("ci_low", 0.0);
  s.ci_high = j.value("ci_high", 0.0);
  return s;
}

nlohmann::json problem_definition(const Problem& p) {
  nlohmann::json dims = nlohmann::json::array();
  for (const auto& [name, value] : p.dims()) dims.push_back({name, value});
  return {{"dims", dims}, {"dtype", p.dtype()}, {"flags", p.flags()}};
}

Problem problem_from_definition(const nlohmann::json& j) {
  std::vector<std::pair<std::string, std::int64_t>> dims;
  for (const auto& d : j.at("dims")) {
    dims.emplace_back(d.at(0).get<std::string>(), d.at(1).get<std::int64_t>());
  }
  return Problem(std::move(dims), j.value("dtype", std::string()),
                 j.value("flags", std::vector<std::string>{}));
}

std::string kt_key(const std::vector<Value>& values) {
  std::string key;
  for (std::size_t i = 0; i < values.size(); ++i) {
    if (i) key += ',';
    key += values[i].to_string();
  }
  return key;
}

// Columns of a measurement row, in the order every SELECT below lists them.
constexpr const char* kMeasurementColumns =
    "m.id, k.hash, m.config_key, m.config, m.status, m.message, m.objective_s, m.samples_s, "
    "m.calls_per_sample, m.summary, m.rechecked, m.compile_s, m.verify_s, m.measure_s, "
    "m.measured_at, m.host, m.user, m.source, m.extra";

StoredMeasurement measurement_from_row(const SqliteStatement& s, int c = 0) {
  StoredMeasurement r;
  r.id = s.int64(c + 0);
  r.key_hash = s.text(c + 1);
  r.config_key = s.text(c + 2);
  r.config = nlohmann::json::parse(s.text(c + 3));
  Measurement& m = r.measurement;
  m.status = status_from_string(s.text(c + 4)).value_or(Status::RuntimeFailed);
  m.message = s.text(c + 5);
  m.samples_s = nlohmann::json::parse(s.text(c + 7)).get<std::vector<double>>();
  m.calls_per_sample = static_cast<std::size_t>(s.int64(c + 8));
  m.summary = summary_from_json(nlohmann::json::parse(s.text(c + 9)));
  // The stored objective is authoritative (an imported file's "time" is its own statistic).
  if (!s.is_null(c + 6)) m.summary.median = s.real(c + 6);
  m.rechecked = s.int64(c + 10) != 0;
  m.compile_s = s.real(c + 11);
  m.verify_s = s.real(c + 12);
  m.measure_s = s.real(c + 13);
  r.measured_at = s.text(c + 14);
  r.host = s.text(c + 15);
  r.user = s.text(c + 16);
  r.source = s.text(c + 17);
  if (!s.is_null(c + 18)) r.extra = nlohmann::json::parse(s.text(c + 18));
  return r;
}

Decision decision_from_row(const SqliteStatement& s, int c, std::string key_hash) {
  Decision d;
  d.key_hash = std::move(key_hash);
  d.config_key = s.text(c);
  d.config = nlohmann::json::parse(s.text(c + 1));
  d.objective_s = s.real(c + 2);
  d.measurement_id = s.int64(c + 3);
  return d;
}

void check_kernel_known(const std::string& name, const std::string& source) {
  // attune's own kernels are named "attune.<backend>.<kernel>/<version>/...": an import naming
  // one this build does not have would be keyed to a kernel nothing can run.
  static const char* const kBuiltIn[] = {"attune.cpu.sgemm/"};
  if (!name.starts_with("attune.")) return;
  for (const char* prefix : kBuiltIn) {
    if (name.starts_with(prefix)) return;
  }
  throw Error(ErrorCode::UnknownName,
              "'" + source + "' holds results for kernel '" + name +
                  "', which this build of attune does not have (built-in kernels: "
                  "attune.cpu.sgemm); import it with a build that has it, or name another kernel "
                  "with --kernel");
}

}  // namespace

std::string_view to_string(LookupRung rung) noexcept {
  switch (rung) {
    case LookupRung::Exact: return "exact";
    case LookupRung::NearestProblem: return "nearest_problem";
    case LookupRung::SameArchitecture: return "same_architecture";
    case LookupRung::Default: return "default";
  }
  return "unknown";
}

std::string KernelIdentity::fingerprint() const {
  return hash_parts(
      {"attune.kernel.v1", std::to_string(kKernelAbiVersion), id, source, compile_options});
}

SpaceIdentity SpaceIdentity::of(const SearchSpace& space) {
  nlohmann::json params = nlohmann::json::array();
  for (const Param& p : space.params()) {
    nlohmann::json values = nlohmann::json::array();
    for (const Value& v : p.values) values.push_back(v.to_json());
    params.push_back({{"name", p.name}, {"values", values}});
  }
  nlohmann::json constraints = nlohmann::json::array();
  for (const Constraint& c : space.constraints()) constraints.push_back(c.text());
  return {space.signature(), {{"params", params}, {"constraints", constraints}}};
}

SpaceIdentity SpaceIdentity::of_recorded(const std::vector<Param>& params) {
  nlohmann::json list = nlohmann::json::array();
  std::string material;
  for (const Param& p : params) {
    nlohmann::json values = nlohmann::json::array();
    material += p.name + '\0';
    for (const Value& v : p.values) {
      values.push_back(v.to_json());
      material += v.to_json().dump() + '\0';
    }
    material += '\1';
    list.push_back({{"name", p.name}, {"values", values}});
  }
  const std::string tagged = "attune.recorded-space.v1\0" + material;
  return {XXH3_64bits(tagged.data(), tagged.size()),
          {{"params", list}, {"constraints", nlohmann::json::array()}}};
}

std::string TuningKey::hash() const {
  return "v1:" + hash_parts({"attune.tuning-key.v1", device.fingerprint(), kernel.fingerprint(),
                             hex64(space.signature), problem.key()});
}

std::optional<double> problem_distance(const Problem& a, const Problem& b) {
  if (a.dtype() != b.dtype() || a.flags() != b.flags() || a.dims().size() != b.dims().size()) {
    return std::nullopt;
  }
  double d = 0.0;
  for (std::size_t i = 0; i < a.dims().size(); ++i) {
    if (a.dims()[i].first != b.dims()[i].first) return std::nullopt;
    const double x = static_cast<double>(std::max<std::int64_t>(1, a.dims()[i].second));
    const double y = static_cast<double>(std::max<std::int64_t>(1, b.dims()[i].second));
    d += std::abs(std::log2(x) - std::log2(y));
  }
  return d;
}

struct TuningDatabase::Impl {
  std::filesystem::path file;
  bool read_only;
  SqliteConnection db;
  std::string host = host_name();
  std::string user = user_name();
  std::unordered_map<std::string, std::unique_ptr<SqliteStatement>> statements;

  Impl(const std::filesystem::path& f, bool ro) : file(f), read_only(ro), db(f, ro, !ro) {}

  SqliteStatement& stmt(const std::string& sql) {
    auto& slot = statements[sql];
    if (!slot) slot = std::make_unique<SqliteStatement>(db, sql);
    slot->reset();
    return *slot;
  }

  std::int64_t scalar(const std::string& sql) {
    SqliteStatement& s = stmt(sql);
    const std::int64_t v = s.step() ? s.int64(0) : 0;
    s.reset();
    return v;
  }

  void open() {
    // Reading the schema is the first access to the file's contents: a file that is not a
    // database fails here, with SQLITE_NOTADB turned into a message naming it.
    const std::int64_t tables = scalar("SELECT count(*) FROM sqlite_master");
    const auto app_id = static_cast<std::int32_t>(scalar("PRAGMA application_id"));
    const std::int64_t version = scalar("PRAGMA user_version");
    if (tables > 0 && app_id != kApplicationId) {
      throw Error(ErrorCode::InvalidArgument,
                  "'" + file.string() +
                      "' is an SQLite database but not an attune tuning database; choose "
                      "another file with --db or ATTUNE_DB");
    }
    if (version > kSchemaVersion) {
      throw Error(ErrorCode::Unsupported,
                  "the tuning database '" + file.string() + "' has schema version " +
                      std::to_string(version) + ", newer than the version " +
                      std::to_string(kSchemaVersion) +
                      " this attune understands; use a newer attune, or another file");
    }
    if (read_only) {
      if (version < kSchemaVersion) {
        throw Error(ErrorCode::Unsupported,
                    "the tuning database '" + file.string() + "' has schema version " +
                        std::to_string(version) +
                        " and must be upgraded, which a read-only open cannot do; open it once "
                        "writable (any 'attune db list' does)");
      }
      return;
    }
    db.exec("PRAGMA journal_mode=WAL");
    db.exec("PRAGMA synchronous=FULL");
    db.exec("PRAGMA foreign_keys=ON");
    if (version == kSchemaVersion) return;
    with_write_transaction(db, [&] {
      // Another process may have created or migrated the file while we waited for the lock.
      std::int64_t current = scalar("PRAGMA user_version");
      for (; current < kSchemaVersion; ++current) db.exec(kMigrations[current]);
      db.exec("PRAGMA application_id=" + std::to_string(kApplicationId));
      db.exec("PRAGMA user_version=" + std::to_string(kSchemaVersion));
    });
  }

  std::int64_t upsert_id(const std::string& table, const std::string& unique_col,
                         const std::string& unique_value,
                         const std::vector<std::pair<std::string, std::string>>& columns) {
    {
      SqliteStatement& s = stmt("SELECT id FROM " + table + " WHERE " + unique_col + "=?1");
      s.bind(1, unique_value);
      if (s.step()) {
        const std::int64_t id = s.int64(0);
        s.reset();
        return id;
      }
      s.reset();
    }
    std::string names = unique_col, marks = "?1";
    for (std::size_t i = 0; i < columns.size(); ++i) {
      names += ", " + columns[i].first;
      marks += ", ?" + std::to_string(i + 2);
    }
    SqliteStatement& ins = stmt("INSERT INTO " + table + "(" + names + ") VALUES(" + marks + ")");
    ins.bind(1, unique_value);
    for (std::size_t i = 0; i < columns.size(); ++i) {
      ins.bind(static_cast<int>(i + 2), columns[i].second);
    }
    ins.run();
    return sqlite3_last_insert_rowid(db.handle());
  }

  // Must run inside a write transaction.
  std::int64_t key_id(const TuningKey& key) {
    const std::string hash = key.hash();
    {
      SqliteStatement& s = stmt("SELECT id FROM tuning_keys WHERE hash=?1");
      s.bind(1, hash);
      if (s.step()) {
        const std::int64_t id = s.int64(0);
        s.reset();
        SqliteStatement& u = stmt("UPDATE tuning_keys SET updated_at=?2 WHERE id=?1");
        u.bind(1, id).bind(2, now_iso()).run();
        return id;
      }
      s.reset();
    }
    const std::int64_t device = upsert_id("devices", "fingerprint", key.device.fingerprint(),
                                          {{"kind", key.device.kind},
                                           {"name", key.device.name},
                                           {"architecture", key.device.architecture},
                                           {"info", key.device.to_json().dump()}});
    const std::int64_t kernel =
        upsert_id("kernels", "fingerprint", key.kernel.fingerprint(),
                  {{"name", key.kernel.id},
                   {"info", nlohmann::json{{"id", key.kernel.id},
                                           {"source_bytes", key.kernel.source.size()},
                                           {"compile_options", key.kernel.compile_options},
                                           {"abi", kKernelAbiVersion}}
                                .dump()}});
    const std::int64_t space = upsert_id("spaces", "signature", hex64(key.space.signature),
                                         {{"definition", key.space.definition.dump()}});
    const std::int64_t problem =
        upsert_id("problems", "key", key.problem.key(),
                  {{"definition", problem_definition(key.problem).dump()}});
    SqliteStatement& ins = stmt(
        "INSERT INTO tuning_keys(hash, device_id, kernel_id, space_id, problem_id, updated_at) "
        "VALUES(?1, ?2, ?3, ?4, ?5, ?6)");
    ins.bind(1, hash).bind(2, device).bind(3, kernel).bind(4, space).bind(5, problem);
    ins.bind(6, now_iso()).run();
    return sqlite3_last_insert_rowid(db.handle());
  }

  // Inserts one measurement (ignored when its digest is already stored) and improves the
  // decision; returns its row id, or 0 when it was a duplicate. Inside a write transaction.
  std::int64_t insert_measurement(std::int64_t key, const StoredMeasurement& r,
                                  const std::string& digest) {
    const Measurement& m = r.measurement;
    std::optional<double> objective;
    if (m.ok()) objective = m.objective();
    SqliteStatement& s = stmt(
        "INSERT OR IGNORE INTO measurements(digest, key_id, config_key, config, status, message, "
        "objective_s, samples_s, calls_per_sample, summary, rechecked, compile_s, verify_s, "
        "measure_s, measured_at, host, user, source, extra) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, "
        "?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19)");
    s.bind(1, digest).bind(2, key).bind(3, r.config_key).bind(4, r.config.dump());
    s.bind(5, to_string(m.status)).bind(6, m.message).bind(7, objective);
    s.bind(8, nlohmann::json(m.samples_s).dump());
    s.bind(9, static_cast<std::int64_t>(m.calls_per_sample));
    s.bind(10, summary_json(m.summary).dump()).bind(11, std::int64_t{m.rechecked ? 1 : 0});
    s.bind(12, m.compile_s).bind(13, m.verify_s).bind(14, m.measure_s);
    s.bind(15, r.measured_at.empty() ? now_iso() : r.measured_at);
    s.bind(16, r.host).bind(17, r.user).bind(18, r.source);
    if (r.extra.is_null()) {
      s.bind_null(19);
    } else {
      s.bind(19, r.extra.dump());
    }
    s.run();
    if (sqlite3_changes(db.handle()) == 0) return 0;
    const std::int64_t id = sqlite3_last_insert_rowid(db.handle());
    if (objective) {
      SqliteStatement& d = stmt(
          "INSERT INTO decisions(key_id, measurement_id, config_key, config, objective_s, "
          "updated_at) VALUES(?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT(key_id) DO UPDATE SET "
          "measurement_id=excluded.measurement_id, config_key=excluded.config_key, "
          "config=excluded.config, objective_s=excluded.objective_s, "
          "updated_at=excluded.updated_at WHERE excluded.objective_s < decisions.objective_s");
      d.bind(1, key).bind(2, id).bind(3, r.config_key).bind(4, r.config.dump());
      d.bind(5, *objective).bind(6, now_iso()).run();
    }
    return id;
  }

  void recompute_decisions() {
    db.exec("DELETE FROM decisions");
    db.exec(
        "INSERT INTO decisions(key_id, measurement_id, config_key, config, objective_s, "
        "updated_at) SELECT key_id, id, config_key, config, objective_s, "
        "strftime('%Y-%m-%dT%H:%M:%SZ','now') FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY "
        "key_id ORDER BY objective_s, id) AS rn FROM measurements WHERE status='ok' AND "
        "objective_s IS NOT NULL) WHERE rn=1");
  }

  std::vector<KeySummary> summaries(const std::string& where, const std::string& arg) {
    std::vector<KeySummary> out;
    SqliteStatement& s = stmt(
        "SELECT k.hash, dv.name, dv.fingerprint, kn.name, p.key, sp.signature, "
        "(SELECT count(*) FROM measurements m WHERE m.key_id=k.id), "
        "(SELECT count(*) FROM measurements m WHERE m.key_id=k.id AND m.status='ok'), "
        "d.config_key, d.config, d.objective_s, d.measurement_id "
        "FROM tuning_keys k JOIN devices dv ON dv.id=k.device_id "
        "JOIN kernels kn ON kn.id=k.kernel_id JOIN spaces sp ON sp.id=k.space_id "
        "JOIN problems p ON p.id=k.problem_id LEFT JOIN decisions d ON d.key_id=k.id " +
        where + " ORDER BY kn.name, dv.name, p.key");
    if (!arg.empty()) s.bind(1, arg);
    while (s.step()) {
      KeySummary k;
      k.key_hash = s.text(0);
      k.device_name = s.text(1);
      k.device_fingerprint = s.text(2);
      k.kernel_id = s.text(3);
      k.problem_key = s.text(4);
      k.space_signature = std::stoull(s.text(5), nullptr, 16);
      k.measurements = static_cast<std::size_t>(s.int64(6));
      k.ok = static_cast<std::size_t>(s.int64(7));
      if (!s.is_null(8)) k.decision = decision_from_row(s, 8, k.key_hash);
      out.push_back(std::move(k));
    }
    s.reset();
    return out;
  }
};

std::filesystem::path TuningDatabase::default_path() {
  if (const char* p = std::getenv("ATTUNE_DB"); p && *p) return p;
  if (const char* p = std::getenv("XDG_CACHE_HOME"); p && *p) {
    return std::filesystem::path(p) / "attune" / "tuning.db";
  }
  if (const char* home = std::getenv("HOME"); home && *home) {
    return std::filesystem::path(home) / ".cache" / "attune" / "tuning.db";
  }
  throw Error(ErrorCode::NotFound,
              "no place for the tuning database: neither ATTUNE_DB, XDG_CACHE_HOME nor HOME is "
              "set; pass --db FILE");
}

TuningDatabase::TuningDatabase(const std::filesystem::path& file, bool read_only) {
  if (!read_only && file.has_parent_path()) {
    std::error_code ec;
    std::filesystem::create_directories(file.parent_path(), ec);
    if (ec) {
      throw Error(ErrorCode::Io, "cannot create the directory of the tuning database '" +
                                     file.string() + "' (" + ec.message() +
                                     "): choose another file with --db or ATTUNE_DB");
    }
  }
  if (read_only && !std::filesystem::exists(file)) {
    throw Error(ErrorCode::NotFound,
                "the tuning database '" + file.string() + "' does not exist; check the path");
  }
  impl_ = std::make_unique<Impl>(file, read_only);
  impl_->open();
}

TuningDatabase::~TuningDatabase() = default;
TuningDatabase::TuningDatabase(TuningDatabase&&) noexcept = default;
TuningDatabase& TuningDatabase::operator=(TuningDatabase&&) noexcept = default;

const std::filesystem::path& TuningDatabase::path() const noexcept { return impl_->file; }

StoredRun TuningDatabase::open_run(const TuningKey& key, const std::string& strategy,
                                   std::uint64_t seed, const SearchSpace& space) {
  if (space.signature() != key.space.signature) {
    throw Error(ErrorCode::InvalidArgument,
                "open_run: the space's signature differs from the key's; build the key with "
                "SpaceIdentity::of(space)");
  }
  const std::string run_hash =
      "v1:" + hash_parts({"attune.run.v1", key.hash(), strategy, std::to_string(seed)});
  Impl& d = *impl_;
  StoredRun run;
  run.strategy = strategy;
  run.seed = seed;
  with_write_transaction(d.db, [&] {
    const std::int64_t key_id = d.key_id(key);
    SqliteStatement& s =
        d.stmt("SELECT id, strategy_state, elapsed_s, stop_reason FROM runs WHERE hash=?1");
    s.bind(1, run_hash);
    if (s.step()) {
      run.id = s.int64(0);
      if (!s.is_null(1)) run.checkpoint.strategy_state = nlohmann::json::parse(s.text(1));
      run.checkpoint.elapsed_s = s.real(2);
      run.stop_reason = s.is_null(3) ? "" : s.text(3);
      s.reset();
    } else {
      s.reset();
      SqliteStatement& ins = d.stmt(
          "INSERT INTO runs(hash, key_id, strategy, seed, started_at, updated_at, host, user) "
          "VALUES(?1, ?2, ?3, ?4, ?5, ?5, ?6, ?7)");
      ins.bind(1, run_hash).bind(2, key_id).bind(3, strategy);
      ins.bind(4, static_cast<std::int64_t>(seed)).bind(5, now_iso()).bind(6, d.host);
      ins.bind(7, d.user).run();
      run.id = sqlite3_last_insert_rowid(d.db.handle());
    }
  });
  SqliteStatement& e = d.stmt(std::string("SELECT ") + kMeasurementColumns +
                              ", r.strategy_s, r.elapsed_s, r.recalled FROM run_evaluations r "
                              "JOIN measurements m ON m.id=r.measurement_id "
                              "JOIN tuning_keys k ON k.id=m.key_id WHERE r.run_id=?1 ORDER BY "
                              "r.seq");
  e.bind(1, run.id);
  while (e.step()) {
    StoredMeasurement m = measurement_from_row(e);
    const auto index = space.index_of_key(m.config_key);
    if (!index) {
      e.reset();
      throw Error(ErrorCode::Internal, "the tuning database '" + path().string() +
                                           "' holds configuration '" + m.config_key +
                                           "' for a run of a space that does not contain it");
    }
    Evaluation ev;
    ev.index = *index;
    ev.measurement = std::move(m.measurement);
    ev.strategy_s = e.real(19);
    ev.elapsed_s = e.real(20);
    ev.recalled = e.int64(21) != 0;
    run.checkpoint.evaluations.push_back(std::move(ev));
  }
  e.reset();
  return run;
}

void TuningDatabase::commit_evaluation(std::int64_t run_id, const Evaluation& evaluation,
                                       const Config& config, const nlohmann::json& strategy_state) {
  Impl& d = *impl_;
  with_write_transaction(d.db, [&] {
    SqliteStatement& r = d.stmt("SELECT key_id, evaluations FROM runs WHERE id=?1");
    r.bind(1, run_id);
    if (!r.step()) {
      r.reset();
      throw Error(ErrorCode::NotFound, "run " + std::to_string(run_id) +
                                           " is not in the tuning database '" + path().string() +
                                           "' (was it pruned meanwhile?)");
    }
    const std::int64_t key = r.int64(0);
    const std::int64_t seq = r.int64(1);
    r.reset();
    const std::string config_key = config.key();
    std::int64_t measurement_id = 0;
    if (evaluation.recalled) {
      SqliteStatement& m = d.stmt(
          "SELECT id FROM measurements WHERE key_id=?1 AND config_key=?2 ORDER BY id DESC "
          "LIMIT 1");
      m.bind(1, key).bind(2, config_key);
      if (m.step()) measurement_id = m.int64(0);
      m.reset();
    }
    if (measurement_id == 0) {
      StoredMeasurement rec;
      rec.config_key = config_key;
      rec.config = config.to_json();
      rec.measurement = evaluation.measurement;
      rec.measured_at = now_iso();
      rec.host = d.host;
      rec.user = d.user;
      rec.source = "tune";
      measurement_id = d.insert_measurement(
          key, rec, "m:" + hash_parts({"attune.measurement.v1", measurement_nonce(), config_key}));
    }
    SqliteStatement& ins = d.stmt(
        "INSERT INTO run_evaluations(run_id, seq, measurement_id, strategy_s, elapsed_s, "
        "recalled) VALUES(?1, ?2, ?3, ?4, ?5, ?6)");
    ins.bind(1, run_id).bind(2, seq).bind(3, measurement_id).bind(4, evaluation.strategy_s);
    ins.bind(5, evaluation.elapsed_s).bind(6, std::int64_t{evaluation.recalled ? 1 : 0});
    try {
      ins.run();
    } catch (const Error&) {
      throw Error(ErrorCode::InvalidArgument,
                  "another process is running the same tuning run (same kernel, problem, "
                  "strategy and seed) on '" +
                      path().string() + "'; let one finish, or give the other a different --seed");
    }
    SqliteStatement& u = d.stmt(
        "UPDATE runs SET evaluations=?2, strategy_state=?3, elapsed_s=?4, updated_at=?5, "
        "stop_reason=NULL WHERE id=?1");
    u.bind(1, run_id).bind(2, seq + 1).bind(3, strategy_state.dump());
    u.bind(4, evaluation.elapsed_s).bind(5, now_iso()).run();
  });
}

void TuningDatabase::finish_run(std::int64_t run_id, StopReason reason, double elapsed_s) {
  Impl& d = *impl_;
  with_write_transaction(d.db, [&] {
    SqliteStatement& u = d.stmt(
        "UPDATE runs SET stop_reason=?2, elapsed_s=max(elapsed_s, ?3), updated_at=?4 "
        "WHERE id=?1");
    u.bind(1, run_id).bind(2, to_string(reason)).bind(3, elapsed_s).bind(4, now_iso()).run();
  });
}

void TuningDatabase::add_measurements(const TuningKey& key,
                                      const std::vector<StoredMeasurement>& records) {
  Impl& d = *impl_;
  with_write_transaction(d.db, [&] {
    const std::int64_t id = d.key_id(key);
    for (const StoredMeasurement& r : records) {
      StoredMeasurement copy = r;
      if (copy.host.empty()) copy.host = d.host;
      if (copy.user.empty()) copy.user = d.user;
      d.insert_measurement(
          id, copy,
          "m:" + hash_parts({"attune.measurement.v1", measurement_nonce(), r.config_key}));
    }
  });
}

std::vector<StoredMeasurement> TuningDatabase::measurements(const std::string& key_hash) const {
  std::vector<StoredMeasurement> out;
  SqliteStatement& s = impl_->stmt(std::string("SELECT ") + kMeasurementColumns +
                                   " FROM measurements m JOIN tuning_keys k ON k.id=m.key_id "
                                   "WHERE k.hash=?1 ORDER BY m.id");
  s.bind(1, key_hash);
  while (s.step()) out.push_back(measurement_from_row(s));
  s.reset();
  return out;
}

std::vector<StoredMeasurement> TuningDatabase::latest_measurements(const TuningKey& key) const {
  std::vector<StoredMeasurement> out;
  SqliteStatement& s = impl_->stmt(
      std::string("SELECT ") + kMeasurementColumns +
      " FROM measurements m JOIN tuning_keys k ON k.id=m.key_id WHERE k.hash=?1 AND m.id IN "
      "(SELECT max(id) FROM measurements WHERE key_id=k.id GROUP BY config_key) ORDER BY m.id");
  s.bind(1, key.hash());
  while (s.step()) out.push_back(measurement_from_row(s));
  s.reset();
  return out;
}

std::optional<Decision> TuningDatabase::decision(const TuningKey& key) const {
  const std::string hash = key.hash();
  SqliteStatement& s = impl_->stmt(
      "SELECT d.config_key, d.config, d.objective_s, d.measurement_id FROM tuning_keys k "
      "JOIN decisions d ON d.key_id=k.id WHERE k.hash=?1");
  s.bind(1, hash);
  std::optional<Decision> out;
  if (s.step()) out = decision_from_row(s, 0, hash);
  s.reset();
  return out;
}

LookupResult TuningDatabase::lookup(const TuningKey& key) const {
  LookupResult result;
  if (auto exact = decision(key)) {
    result.rung = LookupRung::Exact;
    result.decision = std::move(exact);
    result.problem_key = key.problem.key();
    result.device_name = key.device.name;
    return result;
  }
  // Candidates share the kernel and space; the device filter differs per rung.
  auto nearest = [&](const std::string& device_filter,
                     const std::vector<std::string>& args) -> std::optional<LookupResult> {
    SqliteStatement& s = impl_->stmt(
        "SELECT k.hash, p.definition, dv.name, d.config_key, d.config, d.objective_s, "
        "d.measurement_id FROM decisions d JOIN tuning_keys k ON k.id=d.key_id "
        "JOIN devices dv ON dv.id=k.device_id JOIN kernels kn ON kn.id=k.kernel_id "
        "JOIN spaces sp ON sp.id=k.space_id JOIN problems p ON p.id=k.problem_id "
        "WHERE kn.fingerprint=?1 AND sp.signature=?2 AND " +
        device_filter + " ORDER BY k.hash");
    s.bind(1, key.kernel.fingerprint()).bind(2, hex64(key.space.signature));
    for (std::size_t i = 0; i < args.size(); ++i) s.bind(static_cast<int>(i + 3), args[i]);
    std::optional<LookupResult> best;
    while (s.step()) {
      const Problem p = problem_from_definition(nlohmann::json::parse(s.text(1)));
      const auto distance = problem_distance(key.problem, p);
      if (!distance) continue;
      if (!best || *distance < best->distance) {
        LookupResult r;
        r.decision = decision_from_row(s, 3, s.text(0));
        r.problem_key = p.key();
        r.device_name = s.text(2);
        r.distance = *distance;
        best = std::move(r);
      }
    }
    s.reset();
    return best;
  };
  if (auto r = nearest("dv.fingerprint=?3", {key.device.fingerprint()})) {
    r->rung = LookupRung::NearestProblem;
    return *r;
  }
  if (auto r = nearest("dv.kind=?3 AND dv.architecture=?4 AND dv.fingerprint<>?5",
                       {key.device.kind, key.device.architecture, key.device.fingerprint()})) {
    r->rung = LookupRung::SameArchitecture;
    return *r;
  }
  return result;
}

std::vector<KeySummary> TuningDatabase::list() const { return impl_->summaries("", ""); }

KeySummary TuningDatabase::find_key(const std::string& prefix) const {
  if (prefix.size() < 4) {
    throw Error(ErrorCode::InvalidArgument, "key '" + prefix +
                                                "' is too short: give at least 4 characters of "
                                                "a key from 'attune db list'");
  }
  std::string pattern = prefix.starts_with("v1:") ? prefix : "v1:" + prefix;
  for (char& c : pattern) {
    if (c == '%' || c == '_') c = '?';
  }
  auto found = impl_->summaries("WHERE k.hash LIKE ?1", pattern + "%");
  if (found.empty()) {
    throw Error(ErrorCode::NotFound, "no key starting with '" + prefix + "' in '" +
                                         path().string() + "'; see 'attune db list'");
  }
  if (found.size() > 1) {
    throw Error(
        ErrorCode::InvalidArgument,
        "'" + prefix + "' matches " + std::to_string(found.size()) + " keys; give more characters");
  }
  return found.front();
}

nlohmann::json TuningDatabase::key_details(const std::string& key_hash) const {
  SqliteStatement& s = impl_->stmt(
      "SELECT dv.info, kn.info, sp.signature, sp.definition, p.definition, k.recorded, "
      "k.updated_at FROM tuning_keys k JOIN devices dv ON dv.id=k.device_id "
      "JOIN kernels kn ON kn.id=k.kernel_id JOIN spaces sp ON sp.id=k.space_id "
      "JOIN problems p ON p.id=k.problem_id WHERE k.hash=?1");
  s.bind(1, key_hash);
  if (!s.step()) {
    s.reset();
    throw Error(ErrorCode::NotFound, "key " + key_hash + " is not in '" + path().string() + "'");
  }
  nlohmann::json j{
      {"key", key_hash},
      {"device", nlohmann::json::parse(s.text(0))},
      {"kernel", nlohmann::json::parse(s.text(1))},
      {"space", {{"signature", s.text(2)}, {"definition", nlohmann::json::parse(s.text(3))}}},
      {"problem", nlohmann::json::parse(s.text(4))},
      {"updated_at", s.text(6)}};
  if (!s.is_null(5)) j["recorded"] = nlohmann::json::parse(s.text(5));
  s.reset();
  return j;
}

ImportReport TuningDatabase::import_recorded(const RecordedSpace& space, const std::string& source,
                                             const std::optional<std::string>& kernel) {
  const std::string kernel_name = kernel.value_or(space.kernel_name);
  if (kernel_name.empty()) {
    throw Error(
        ErrorCode::InvalidArgument,
        "'" + source + "' does not name its kernel (no kernel_name); give one with --kernel NAME");
  }
  check_kernel_known(kernel_name, source);
  TuningKey key;
  key.device.kind = "recorded";
  key.device.name = space.device_name.empty() ? "unknown device" : space.device_name;
  key.device.architecture = key.device.name;
  key.device.cores = 0;
  key.kernel.id = kernel_name;
  key.space = SpaceIdentity::of_recorded(space.params);
  std::vector<std::pair<std::string, std::int64_t>> dims;
  std::vector<std::string> flags;
  static const char* const kAxes[] = {"x", "y", "z"};
  auto add_dim = [&](const nlohmann::json& v, std::size_t i) {
    if (v.is_number_integer() && i < 3) {
      dims.emplace_back(kAxes[i], v.get<std::int64_t>());
    } else {
      flags.push_back("problem_size[" + std::to_string(i) + "]=" + v.dump());
    }
  };
  if (space.problem_size.is_array()) {
    for (std::size_t i = 0; i < space.problem_size.size(); ++i) add_dim(space.problem_size[i], i);
  } else if (!space.problem_size.is_null()) {
    add_dim(space.problem_size, 0);
  }
  key.problem = Problem(std::move(dims), "recorded", std::move(flags));

  const std::string hash = key.hash();
  std::vector<StoredMeasurement> records;
  records.reserve(space.entries.size());
  ImportReport report;
  report.key_hash = hash;
  report.truncated = space.truncated;
  for (std::size_t i = 0; i < space.entries.size(); ++i) {
    const RecordedEntry& e = space.entries[i];
    if (e.values.size() != space.params.size()) {
      throw Error(ErrorCode::InvalidArgument,
                  "'" + source + "': entry " + std::to_string(i) + " has " +
                      std::to_string(e.values.size()) + " values for " +
                      std::to_string(space.params.size()) +
                      " parameters; nothing was imported, fix or re-export the file");
    }
    StoredMeasurement r;
    r.config_key = kt_key(e.values);
    nlohmann::json config = nlohmann::json::object();
    for (std::size_t p = 0; p < e.values.size(); ++p) {
      config[space.params[p].name] = e.values[p].to_json();
    }
    r.config = std::move(config);
    Measurement& m = r.measurement;
    for (double t : e.times_ms) m.samples_s.push_back(t * 1e-3);
    if (e.time_ms) {
      m.status = Status::Ok;
      if (!m.samples_s.empty()) m.summary = summarize(m.samples_s);
      m.summary.median = *e.time_ms * 1e-3;
    } else {
      m.status = status_from_kernel_tuner_error(e.error);
      m.message = e.error;
    }
    if (e.raw.is_object() && e.raw.contains("timestamp") && e.raw["timestamp"].is_string()) {
      r.measured_at = e.raw["timestamp"].get<std::string>();
    }
    r.source = "import " + source;
    r.extra = e.raw;
    if (!m.ok()) ++report.failed;
    records.push_back(std::move(r));
  }
  nlohmann::json recorded{{"format", space.format},           {"device_name", space.device_name},
                          {"kernel_name", space.kernel_name}, {"problem_size", space.problem_size},
                          {"objective", space.objective},     {"metadata", space.metadata}};
  Impl& d = *impl_;
  with_write_transaction(d.db, [&] {
    const std::int64_t id = d.key_id(key);
    SqliteStatement& u = d.stmt("UPDATE tuning_keys SET recorded=?2 WHERE id=?1");
    u.bind(1, id).bind(2, recorded.dump()).run();
    for (const StoredMeasurement& r : records) {
      // Deterministic digest: importing the same file twice adds nothing the second time.
      const std::string digest =
          "i:" + hash_parts({"attune.import.v1", hash, r.config_key, r.extra.dump()});
      StoredMeasurement copy = r;
      copy.host = "";
      copy.user = "";
      if (d.insert_measurement(id, copy, digest) != 0) ++report.imported;
    }
  });
  if (report.imported < records.size()) {
    // Failures counted above include duplicates; recount what actually went in.
    report.failed = 0;
    for (const auto& m : measurements(hash)) {
      if (!m.measurement.ok()) ++report.failed;
    }
  }
  return report;
}

RecordedSpace TuningDatabase::export_recorded(const std::string& key_hash) const {
  const nlohmann::json details = key_details(key_hash);
  RecordedSpace out;
  const nlohmann::json recorded = details.value("recorded", nlohmann::json::object());
  out.format = recorded.value("format", std::string("kernel_tuner"));
  out.device_name = recorded.value("device_name", details["device"].value("name", std::string()));
  out.kernel_name = recorded.value("kernel_name", details["kernel"].value("id", std::string()));
  out.objective = recorded.value("objective", std::string("time"));
  out.metadata = recorded.value("metadata", nlohmann::json::object());
  if (recorded.contains("problem_size")) {
    out.problem_size = recorded["problem_size"];
  } else {
    nlohmann::json sizes = nlohmann::json::array();
    for (const auto& dim : details["problem"]["dims"]) sizes.push_back(dim[1]);
    out.problem_size = sizes;
  }
  for (const auto& p : details["space"]["definition"]["params"]) {
    Param param{p["name"].get<std::string>(), {}};
    for (const auto& v : p["values"]) param.values.push_back(Value::from_json(v));
    out.params.push_back(std::move(param));
  }
  // The latest measurement of each configuration, in the order configurations were first seen.
  std::vector<StoredMeasurement> all = measurements(key_hash);
  std::unordered_map<std::string, std::size_t> position;
  std::vector<StoredMeasurement> latest;
  for (StoredMeasurement& m : all) {
    auto [it, added] = position.emplace(m.config_key, latest.size());
    if (added) {
      latest.push_back(std::move(m));
    } else {
      latest[it->second] = std::move(m);
    }
  }
  for (const StoredMeasurement& m : latest) {
    RecordedEntry e;
    for (const Param& p : out.params) {
      if (!m.config.contains(p.name)) {
        throw Error(ErrorCode::Internal, "measurement " + std::to_string(m.id) + " of key " +
                                             key_hash + " has no value for '" + p.name + "'");
      }
      e.values.push_back(Value::from_json(m.config[p.name]));
    }
    if (m.measurement.ok()) {
      e.time_ms = m.measurement.objective() * 1e3;
    } else {
      e.error = kernel_tuner_error(m.measurement.status);
    }
    for (double s : m.measurement.samples_s) e.times_ms.push_back(s * 1e3);
    e.raw = m.extra;
    out.entries.push_back(std::move(e));
  }
  return out;
}

std::size_t TuningDatabase::prune(std::optional<double> older_than_days, bool failures) {
  Impl& d = *impl_;
  return with_write_transaction(d.db, [&] {
    d.db.exec("CREATE TEMP TABLE IF NOT EXISTS doomed(id INTEGER PRIMARY KEY)");
    d.db.exec("DELETE FROM doomed");
    if (older_than_days) {
      SqliteStatement& s = d.stmt(
          "INSERT OR IGNORE INTO doomed SELECT m.id FROM measurements m JOIN tuning_keys k ON "
          "k.id=m.key_id WHERE k.updated_at < ?1");
      s.bind(1, iso_days_ago(*older_than_days)).run();
    }
    if (failures)
      d.db.exec(
          "INSERT OR IGNORE INTO doomed SELECT id FROM measurements WHERE "
          "status<>'ok'");
    // A run that lost any of its measurements can no longer resume exactly: it goes too.
    d.db.exec("CREATE TEMP TABLE IF NOT EXISTS doomed_runs(id INTEGER PRIMARY KEY)");
    d.db.exec("DELETE FROM doomed_runs");
    d.db.exec(
        "INSERT OR IGNORE INTO doomed_runs SELECT DISTINCT run_id FROM run_evaluations "
        "WHERE measurement_id IN (SELECT id FROM doomed)");
    d.db.exec("DELETE FROM run_evaluations WHERE run_id IN (SELECT id FROM doomed_runs)");
    d.db.exec("DELETE FROM runs WHERE id IN (SELECT id FROM doomed_runs)");
    d.db.exec("DELETE FROM decisions");
    d.db.exec("DELETE FROM measurements WHERE id IN (SELECT id FROM doomed)");
    const auto removed = static_cast<std::size_t>(sqlite3_changes(d.db.handle()));
    d.recompute_decisions();
    return removed;
  });
}

void TuningDatabase::vacuum() {
  impl_->statements.clear();
  impl_->db.exec("PRAGMA wal_checkpoint(TRUNCATE)");
  impl_->db.exec("VACUUM");
}

MergeReport TuningDatabase::merge(const std::vector<std::filesystem::path>& inputs,
                                  const std::filesystem::path& output, bool anonymize,
                                  const std::string& salt) {
  MergeReport report;
  TuningDatabase out(output);
  Impl& d = *out.impl_;
  const std::string used_salt = salt.empty() ? detail::random_salt() : salt;
  detail::register_anonymize_function(d.db.handle(), anonymize ? &used_salt : nullptr);
  for (const auto& input : inputs) {
    if (std::filesystem::equivalent(input, output)) {
      throw Error(ErrorCode::InvalidArgument,
                  "'" + input.string() + "' is both an input and the output of the merge");
    }
    // Opening it as a database checks that it is an attune database of a schema we read.
    { TuningDatabase check(input, /*read_only=*/true); }
    SqliteStatement attach(d.db, "ATTACH DATABASE ?1 AS src");
    attach.bind(1, input.string()).run();
    try {
      with_write_transaction(d.db, [&] {
        report.measurements_read +=
            static_cast<std::size_t>(d.scalar("SELECT count(*) FROM src.measurements"));
        d.db.exec(
            "INSERT OR IGNORE INTO devices(fingerprint, kind, name, architecture, info) "
            "SELECT fingerprint, kind, name, architecture, info FROM src.devices;"
            "INSERT OR IGNORE INTO kernels(fingerprint, name, info) "
            "SELECT fingerprint, name, info FROM src.kernels;"
            "INSERT OR IGNORE INTO spaces(signature, definition) "
            "SELECT signature, definition FROM src.spaces;"
            "INSERT OR IGNORE INTO problems(key, definition) "
            "SELECT key, definition FROM src.problems;"
            "INSERT OR IGNORE INTO tuning_keys(hash, device_id, kernel_id, space_id, problem_id, "
            "recorded, updated_at) SELECT k.hash, md.id, mk.id, ms.id, mp.id, k.recorded, "
            "k.updated_at FROM src.tuning_keys k "
            "JOIN src.devices sd ON sd.id=k.device_id JOIN main.devices md ON "
            "md.fingerprint=sd.fingerprint "
            "JOIN src.kernels sk ON sk.id=k.kernel_id JOIN main.kernels mk ON "
            "mk.fingerprint=sk.fingerprint "
            "JOIN src.spaces ss ON ss.id=k.space_id JOIN main.spaces ms ON "
            "ms.signature=ss.signature "
            "JOIN src.problems sp ON sp.id=k.problem_id JOIN main.problems mp ON mp.key=sp.key;");
        d.db.exec(
            "INSERT OR IGNORE INTO measurements(digest, key_id, config_key, config, status, "
            "message, objective_s, samples_s, calls_per_sample, summary, rechecked, compile_s, "
            "verify_s, measure_s, measured_at, host, user, source, extra) SELECT m.digest, mk.id, "
            "m.config_key, m.config, m.status, m.message, m.objective_s, m.samples_s, "
            "m.calls_per_sample, m.summary, m.rechecked, m.compile_s, m.verify_s, m.measure_s, "
            "m.measured_at, attune_anonymize(m.host), attune_anonymize(m.user), m.source, "
            "m.extra FROM src.measurements m JOIN src.tuning_keys sk ON sk.id=m.key_id "
            "JOIN main.tuning_keys mk ON mk.hash=sk.hash ORDER BY m.id");
        report.measurements_added += static_cast<std::size_t>(sqlite3_changes(d.db.handle()));
        d.recompute_decisions();
      });
    } catch (...) {
      d.db.exec("DETACH DATABASE src");
      throw;
    }
    d.db.exec("DETACH DATABASE src");
    ++report.inputs;
  }
  if (anonymize) {
    // Measurements already in the output (from earlier, unanonymized work) are covered too, as
    // are the runs, which name the host that ran them.
    with_write_transaction(d.db, [&] {
      d.db.exec(
          "UPDATE measurements SET host=attune_anonymize(host), user=attune_anonymize(user);"
          "UPDATE runs SET host=attune_anonymize(host), user=attune_anonymize(user);");
    });
  }
  report.keys = static_cast<std::size_t>(d.scalar("SELECT count(*) FROM tuning_keys"));
  return report;
}

}  // namespace attune
