// `attune db ...`: inspect and maintain the tuning database: list keys, show a key's measurements,
// look up the best configuration (with fallback), import and export Kernel Tuner / T4 files, merge
// databases from several machines, prune and vacuum. Every subcommand can answer in JSON.

#include <zlib.h>

#include <cstdio>
#include <fstream>
#include <optional>
#include <string>
#include <vector>

#include "attune/backends/cpu_gemm.hpp"
#include "attune/error.hpp"
#include "attune/observers.hpp"
#include "attune/tuning_database.hpp"
#include "commands.hpp"
#include "gemm_key.hpp"
#include "number_checks.hpp"

namespace attune::cli {
namespace {

struct DbOptions {
  std::string db_path;
  bool json = false;
  std::string key;
  std::vector<std::string> files;
  std::optional<std::string> kernel;
  double max_size_mb = static_cast<double>(kMaxRecordedSpaceBytes >> 20);
  std::string format = "kt";
  std::string output;
  bool anonymize = false;
  std::string salt;
  std::optional<double> older_than_days;
  bool failures = false;
  std::optional<int> m, n, k;
  std::optional<int> threads;
};

std::filesystem::path db_file(const DbOptions& o) {
  return o.db_path.empty() ? TuningDatabase::default_path() : std::filesystem::path(o.db_path);
}

void print_json(const nlohmann::json& j) { std::printf("%s\n", j.dump(2).c_str()); }

nlohmann::json decision_json(const Decision& d) {
  return {{"config_key", d.config_key},
          {"config", d.config},
          {"median_ms", d.objective_s * 1e3},
          {"measurement_id", d.measurement_id}};
}

nlohmann::json summary_json(const KeySummary& k) {
  nlohmann::json j{{"key", k.key_hash},
                   {"device", k.device_name},
                   {"device_fingerprint", k.device_fingerprint},
                   {"kernel", k.kernel_id},
                   {"problem", k.problem_key},
                   {"measurements", k.measurements},
                   {"ok", k.ok}};
  j["best"] = k.decision ? decision_json(*k.decision) : nlohmann::json();
  return j;
}

std::string short_key(const std::string& hash) { return hash.substr(3, 12); }

void run_list(const DbOptions& o) {
  TuningDatabase db(db_file(o), /*read_only=*/true);
  const auto keys = db.list();
  if (o.json) {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& k : keys) out.push_back(summary_json(k));
    print_json(out);
    return;
  }
  std::printf("%s: %zu key%s\n", db.path().c_str(), keys.size(), keys.size() == 1 ? "" : "s");
  if (keys.empty()) return;
  std::printf("%-12s  %-28s  %-34s  %-26s  %6s  %s\n", "KEY", "KERNEL", "DEVICE", "PROBLEM", "MEAS",
              "BEST");
  for (const auto& k : keys) {
    std::string device = k.device_name.substr(0, 34);
    std::printf("%-12s  %-28s  %-34s  %-26s  %6zu  %s\n", short_key(k.key_hash).c_str(),
                k.kernel_id.substr(0, 28).c_str(), device.c_str(),
                k.problem_key.substr(0, 26).c_str(), k.measurements,
                k.decision ? format_seconds(k.decision->objective_s).c_str() : "-");
  }
}

void run_show(const DbOptions& o) {
  TuningDatabase db(db_file(o), /*read_only=*/true);
  const KeySummary k = db.find_key(o.key);
  const nlohmann::json details = db.key_details(k.key_hash);
  const auto measurements = db.measurements(k.key_hash);
  if (o.json) {
    nlohmann::json j = details;
    j["best"] = k.decision ? decision_json(*k.decision) : nlohmann::json();
    nlohmann::json list = nlohmann::json::array();
    for (const auto& m : measurements) {
      nlohmann::json row{{"id", m.id},
                         {"config", m.config},
                         {"status", to_string(m.measurement.status)},
                         {"measured_at", m.measured_at},
                         {"host", m.host},
                         {"source", m.source}};
      if (m.measurement.ok()) row["median_ms"] = m.measurement.objective() * 1e3;
      if (!m.measurement.message.empty()) row["message"] = m.measurement.message;
      nlohmann::json samples = nlohmann::json::array();
      for (double s : m.measurement.samples_s) samples.push_back(s * 1e3);
      row["samples_ms"] = samples;
      list.push_back(std::move(row));
    }
    j["measurements"] = std::move(list);
    print_json(j);
    return;
  }
  std::printf("key      %s\nkernel   %s\ndevice   %s (%s)\nproblem  %s\nspace    %s\n",
              k.key_hash.c_str(), k.kernel_id.c_str(), k.device_name.c_str(),
              k.device_fingerprint.c_str(), k.problem_key.c_str(),
              details["space"]["signature"].get<std::string>().c_str());
  if (k.decision) {
    std::printf("best     %s  %s\n", k.decision->config_key.c_str(),
                format_seconds(k.decision->objective_s).c_str());
  }
  std::printf("%zu measurements (%zu ok):\n", measurements.size(), k.ok);
  for (const auto& m : measurements) {
    std::printf("  %-40s  %-14s  %s\n", m.config_key.c_str(),
                std::string(to_string(m.measurement.status)).c_str(),
                m.measurement.ok() ? format_seconds(m.measurement.objective()).c_str()
                                   : m.measurement.message.substr(0, 40).c_str());
  }
}

void run_best(const DbOptions& o) {
  TuningDatabase db(db_file(o), /*read_only=*/true);
  if (!o.key.empty()) {
    const KeySummary k = db.find_key(o.key);
    if (o.json) {
      print_json({{"key", k.key_hash},
                  {"rung", "exact"},
                  {"best", k.decision ? decision_json(*k.decision) : nlohmann::json()}});
    } else if (k.decision) {
      std::printf("%s  %s  (exact)\n", k.decision->config_key.c_str(),
                  format_seconds(k.decision->objective_s).c_str());
    } else {
      std::printf("no configuration of key %s ran correctly\n", k.key_hash.c_str());
    }
    return;
  }
  if (!o.m || !o.n || !o.k) {
    throw Error(ErrorCode::InvalidArgument,
                "give a KEY (see 'attune db list') or the SGEMM shape with --m, --n and --k");
  }
  const kernels::Isa isa = kernels::best_isa();
  const DeviceInfo device = DeviceInfo::host_cpu();
  const int threads = o.threads.value_or(device.cores);
  const cpu::GemmProblem problem{*o.m, *o.n, *o.k, 1.0f, 0.0f};
  const SearchSpace space = cpu::gemm_search_space(isa, threads);
  const LookupResult r = db.lookup(gemm_tuning_key(device, isa, space, problem));
  std::string config_key = r.decision
                               ? r.decision->config_key
                               : space.at(cpu::default_gemm_index(space, isa, threads)).key();
  if (o.json) {
    nlohmann::json j{
        {"rung", to_string(r.rung)}, {"problem", problem.key().key()}, {"config_key", config_key}};
    if (r.decision) {
      j["tuned_for"] = r.problem_key;
      j["tuned_on"] = r.device_name;
      j["distance"] = r.distance;
      j["median_ms_when_tuned"] = r.decision->objective_s * 1e3;
    }
    print_json(j);
    return;
  }
  std::printf("%s  %s", problem.key().key().c_str(), config_key.c_str());
  switch (r.rung) {
    case LookupRung::Exact:
      std::printf("  (exact: %s)\n", format_seconds(r.decision->objective_s).c_str());
      break;
    case LookupRung::NearestProblem:
    case LookupRung::SameArchitecture:
      std::printf("  (%s: tuned for %s on %s, distance %.3g)\n",
                  std::string(to_string(r.rung)).c_str(), r.problem_key.c_str(),
                  r.device_name.c_str(), r.distance);
      break;
    case LookupRung::Default: std::printf("  (default: nothing stored applies)\n"); break;
  }
}

void write_text(const std::string& path, const std::string& text) {
  if (path.empty() || path == "-") {
    std::fwrite(text.data(), 1, text.size(), stdout);
    return;
  }
  if (path.ends_with(".gz")) {
    gzFile f = gzopen(path.c_str(), "wb");
    const bool ok = f && gzwrite(f, text.data(), static_cast<unsigned>(text.size())) ==
                             static_cast<int>(text.size());
    if (!f || gzclose(f) != Z_OK || !ok) {
      throw Error(ErrorCode::Io, "cannot write '" + path + "': check the directory and the disk");
    }
    return;
  }
  std::ofstream out(path, std::ios::binary);
  out << text;
  out.close();
  if (!out) throw Error(ErrorCode::Io, "cannot write '" + path + "': check the directory");
}

void run_export(const DbOptions& o) {
  if (o.format != "kt" && o.format != "t4") {
    throw Error(ErrorCode::InvalidArgument,
                "--format must be kt (Kernel Tuner cache) or t4, not '" + o.format + "'");
  }
  TuningDatabase db(db_file(o), /*read_only=*/true);
  const KeySummary k = db.find_key(o.key);
  const RecordedSpace space = db.export_recorded(k.key_hash);
  const nlohmann::ordered_json j =
      o.format == "kt" ? to_kernel_tuner_json(space) : to_t4_json(space);
  write_text(o.output, j.dump(1) + "\n");
  if (!o.output.empty() && o.output != "-") {
    std::fprintf(stderr, "attune: wrote %zu configurations of key %s to %s\n", space.entries.size(),
                 short_key(k.key_hash).c_str(), o.output.c_str());
  }
}

void run_import(const DbOptions& o) {
  const auto cap = static_cast<std::size_t>(o.max_size_mb * 1024.0 * 1024.0);
  TuningDatabase db(db_file(o));
  nlohmann::json reports = nlohmann::json::array();
  for (const std::string& file : o.files) {
    // Read and check the whole file before the database is touched: an import is all or nothing.
    const RecordedSpace space = read_recorded_space(file, cap);
    const ImportReport r = db.import_recorded(space, file, o.kernel);
    reports.push_back({{"file", file},
                       {"key", r.key_hash},
                       {"format", space.format},
                       {"entries", space.entries.size()},
                       {"imported", r.imported},
                       {"failed", r.failed},
                       {"truncated", r.truncated}});
    if (!o.json) {
      std::printf(
          "%s: %zu of %zu configurations imported as key %s (%s, %s on %s)%s\n", file.c_str(),
          r.imported, space.entries.size(), short_key(r.key_hash).c_str(), space.format.c_str(),
          space.kernel_name.c_str(), space.device_name.c_str(),
          r.truncated ? "; the file was cut off mid-write, its complete entries were kept" : "");
    }
  }
  if (o.json) print_json(reports);
}

void run_merge(const DbOptions& o) {
  if (o.output.empty()) throw Error(ErrorCode::InvalidArgument, "give the output with -o OUT.db");
  std::vector<std::filesystem::path> inputs(o.files.begin(), o.files.end());
  const MergeReport r = TuningDatabase::merge(inputs, o.output, o.anonymize, o.salt);
  if (o.json) {
    print_json({{"inputs", r.inputs},
                {"measurements_read", r.measurements_read},
                {"measurements_added", r.measurements_added},
                {"keys", r.keys},
                {"anonymized", o.anonymize}});
    return;
  }
  std::printf(
      "merged %zu databases into %s: %zu measurements read, %zu added (%zu duplicates "
      "collapsed), %zu keys%s\n",
      r.inputs, o.output.c_str(), r.measurements_read, r.measurements_added,
      r.measurements_read - r.measurements_added, r.keys,
      o.anonymize ? "; host and user names anonymized" : "");
}

void run_prune(const DbOptions& o) {
  if (!o.older_than_days && !o.failures) {
    throw Error(ErrorCode::InvalidArgument,
                "say what to prune: --older-than DAYS and/or --failures");
  }
  TuningDatabase db(db_file(o));
  const std::size_t removed = db.prune(o.older_than_days, o.failures);
  if (o.json) {
    print_json({{"removed", removed}});
  } else {
    std::printf("removed %zu measurements from %s\n", removed, db.path().c_str());
  }
}

void run_vacuum(const DbOptions& o) {
  const auto file = db_file(o);
  const auto before = std::filesystem::file_size(file);
  TuningDatabase db(file);
  db.vacuum();
  const auto after = std::filesystem::file_size(file);
  if (o.json) {
    print_json({{"bytes_before", before}, {"bytes_after", after}});
  } else {
    std::printf("%s: %ju -> %ju bytes\n", file.c_str(), static_cast<std::uintmax_t>(before),
                static_cast<std::uintmax_t>(after));
  }
}

}  // namespace

void add_db_command(CLI::App& app) {
  auto o = std::make_shared<DbOptions>();
  auto* db =
      app.add_subcommand("db",
                         "Inspect and maintain the tuning database (default $ATTUNE_DB, else "
                         "$XDG_CACHE_HOME/attune/tuning.db, else ~/.cache/attune/tuning.db)");
  db->require_subcommand(1);
  auto common = [o](CLI::App* sub) {
    sub->add_option("--db", o->db_path, "Tuning database file");
    sub->add_flag("--json", o->json, "Answer in JSON");
  };

  auto* list = db->add_subcommand("list", "Every key (kernel, device, problem) and its best");
  common(list);
  list->callback([o] { run_list(*o); });

  auto* show = db->add_subcommand("show", "A key's identity and every measurement");
  common(show);
  show->add_option("key", o->key, "Key, or its first characters (see 'attune db list')")
      ->required();
  show->callback([o] { run_show(*o); });

  auto* best = db->add_subcommand(
      "best",
      "The best configuration of a key, or for an SGEMM shape on this machine with "
      "fallback: exact -> nearest problem -> same architecture -> default");
  common(best);
  best->add_option("key", o->key, "Key, or its first characters");
  best->add_option("--m", o->m, "SGEMM rows")->check(kPositive);
  best->add_option("--n", o->n, "SGEMM columns")->check(kPositive);
  best->add_option("--k", o->k, "SGEMM depth")->check(kPositive);
  best->add_option("--threads", o->threads, "Most threads (as given to 'attune tune gemm')")
      ->check(kPositive);
  best->callback([o] { run_best(*o); });

  auto* exp = db->add_subcommand("export",
                                 "Write a key's measurements as a Kernel Tuner cache "
                                 "or T4 file");
  common(exp);
  exp->add_option("key", o->key, "Key, or its first characters")->required();
  exp->add_option("--format", o->format, "kt (Kernel Tuner cache) or t4")->capture_default_str();
  exp->add_option("-o,--output", o->output, "Output file (.gz compresses); default stdout");
  exp->callback([o] { run_export(*o); });

  auto* imp = db->add_subcommand(
      "import", "Import Kernel Tuner cache or T4 files (.json or .json.gz), each all or nothing");
  common(imp);
  imp->add_option("files", o->files, "Files to import")->required()->check(CLI::ExistingFile);
  imp->add_option("--kernel", o->kernel,
                  "Kernel name to file the results under (default: the "
                  "file's kernel_name)");
  imp->add_option("--max-size", o->max_size_mb, "Largest uncompressed file accepted, in MiB")
      ->check(kPositive)
      ->capture_default_str();
  imp->callback([o] { run_import(*o); });

  auto* merge =
      db->add_subcommand("merge",
                         "Combine databases from many machines: duplicates collapse, conflicting "
                         "measurements are all kept, decisions are recomputed");
  merge->add_option("inputs", o->files, "Databases to merge")->required()->check(CLI::ExistingFile);
  merge->add_option("-o,--output", o->output, "Output database (created or extended)")->required();
  merge->add_flag("--anonymize", o->anonymize,
                  "Replace host and user names with salted SHA-256 hashes");
  merge->add_option("--salt", o->salt, "Salt for --anonymize (default: random)");
  merge->add_flag("--json", o->json, "Answer in JSON");
  merge->callback([o] { run_merge(*o); });

  auto* prune = db->add_subcommand("prune", "Delete old or failed measurements");
  common(prune);
  prune->add_option("--older-than", o->older_than_days, "Keys not updated for this many days")
      ->check(kNonNegative);
  prune->add_flag("--failures", o->failures,
                  "Failed measurements, so that those configurations are measured again");
  prune->callback([o] { run_prune(*o); });

  auto* vacuum = db->add_subcommand("vacuum", "Rebuild the file to reclaim space");
  common(vacuum);
  vacuum->callback([o] { run_vacuum(*o); });
}

}  // namespace attune::cli
