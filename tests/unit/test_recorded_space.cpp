// The recorded-space reader on real files (a Kernel Tuner cache and a T4 file, both gzip), on a
// cache cut off mid-write, and on the errors a user can make.

#include <gtest/gtest.h>
#include <zlib.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "attune/error.hpp"
#include "attune/recorded_space.hpp"

namespace attune {
namespace {

const std::string kData = std::string(ATTUNE_TEST_DATA_DIR) + "/recorded/";

std::string gunzip_file(const std::string& path) {
  gzFile f = gzopen(path.c_str(), "rb");
  std::string text;
  char buf[1 << 16];
  int n;
  while ((n = gzread(f, buf, sizeof buf)) > 0) text.append(buf, static_cast<std::size_t>(n));
  gzclose(f);
  return text;
}

std::filesystem::path write_temp(const std::string& name, const std::string& text) {
  const auto path = std::filesystem::temp_directory_path() / name;
  std::ofstream(path, std::ios::binary) << text;
  return path;
}

TEST(RecordedSpace, ReadsKernelTunerCache) {
  const RecordedSpace s = read_recorded_space(kData + "pnpoly_rtx3090.json.gz");
  EXPECT_EQ(s.format, "kernel_tuner");
  EXPECT_EQ(s.device_name, "NVIDIA GeForce RTX 3090");
  EXPECT_EQ(s.kernel_name, "cn_pnpoly");
  EXPECT_EQ(s.problem_size, nlohmann::json(20000000));
  EXPECT_EQ(s.objective, "time");
  ASSERT_EQ(s.params.size(), 4u);
  EXPECT_EQ(s.params[0].name, "between_method");
  EXPECT_EQ(s.params[1].name, "block_size_x");
  EXPECT_EQ(s.params[1].values.size(), 31u);
  EXPECT_EQ(s.params[2].values.back(), Value(20));
  ASSERT_EQ(s.entries.size(), 4092u);
  EXPECT_FALSE(s.truncated);
  // File order, not sorted order: the first entries are 0,32,1,0 / 0,32,1,1, the last 3,992,20,2.
  EXPECT_EQ(s.entries[0].values, (std::vector<Value>{0, 32, 1, 0}));
  EXPECT_EQ(s.entries[1].values, (std::vector<Value>{0, 32, 1, 1}));
  EXPECT_EQ(s.entries.back().values, (std::vector<Value>{3, 992, 20, 2}));
  ASSERT_TRUE(s.entries[0].time_ms);
  EXPECT_DOUBLE_EQ(*s.entries[0].time_ms, 43.55386238098144);
  EXPECT_EQ(s.entries[0].times_ms.size(), 10u);
  EXPECT_TRUE(s.entries[0].error.empty());
  EXPECT_TRUE(s.entries[0].raw.contains("compile_time"));
  EXPECT_FALSE(s.entries.back().time_ms);
  EXPECT_EQ(s.entries.back().error, "RuntimeFailedConfig");
  std::size_t failed = 0;
  double best = 1e300;
  for (const auto& e : s.entries) {
    if (e.time_ms)
      best = std::min(best, *e.time_ms);
    else
      ++failed;
  }
  EXPECT_EQ(failed, 318u);
  EXPECT_DOUBLE_EQ(best, 8.714240169525146);
}

TEST(RecordedSpace, ReadsT4AndConvertsMicroseconds) {
  const RecordedSpace s = read_recorded_space(kData + "coulomb3d_rtx2080ti_t4.json.gz");
  EXPECT_EQ(s.format, "t4");
  EXPECT_EQ(s.device_name, "NVIDIA GeForce RTX 2080 Ti");
  EXPECT_EQ(s.kernel_name, "directCoulombSum");
  EXPECT_EQ(s.objective, "TotalDuration");
  ASSERT_EQ(s.params.size(), 8u);
  // The order of the configuration's keys in the file, not alphabetical.
  EXPECT_EQ(s.params[0].name, "WORK_GROUP_SIZE_X");
  EXPECT_EQ(s.params[3].name, "Z_ITERATIONS");
  EXPECT_EQ(s.params[7].name, "WORK_GROUP_SIZE_Z");
  EXPECT_EQ(s.params[3].values, (std::vector<Value>{1, 2, 4, 8, 16, 32}));
  ASSERT_EQ(s.entries.size(), 210u);
  EXPECT_EQ(s.entries[0].values, (std::vector<Value>{16, 4, 0, 1, 0, 0, 1, 1}));
  ASSERT_TRUE(s.entries[0].time_ms);
  EXPECT_DOUBLE_EQ(*s.entries[0].time_ms, 3.037408);
  ASSERT_EQ(s.entries[0].times_ms.size(), 1u);
  EXPECT_DOUBLE_EQ(s.entries[0].times_ms[0], 3.037408);
  EXPECT_TRUE(s.metadata.contains("schema_version"));
  double best = 1e300;
  for (const auto& e : s.entries) best = std::min(best, *e.time_ms);
  EXPECT_DOUBLE_EQ(best, 0.769696);
}

TEST(RecordedSpace, KeepsTheEntriesOfACacheCutOffMidWrite) {
  const std::string text = gunzip_file(kData + "pnpoly_rtx3090.json.gz");
  // Cut in the middle of the 101st entry's line, as a killed Kernel Tuner run leaves it.
  std::size_t at = text.find("\"cache\"");
  for (int line = 0; line < 101; ++line) at = text.find('\n', at + 1);
  const auto path = write_temp("attune_truncated_cache.json", text.substr(0, at + 40));
  const RecordedSpace s = read_recorded_space(path);
  EXPECT_TRUE(s.truncated);
  EXPECT_EQ(s.entries.size(), 100u);
  EXPECT_EQ(s.entries[99].values, (std::vector<Value>{0, 128, 1, 0}));
  std::filesystem::remove(path);
}

TEST(RecordedSpace, ErrorsNameTheFileAndTheProblem) {
  try {
    read_recorded_space(kData + "no_such_file.json");
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::NotFound);
    EXPECT_NE(std::string(e.what()).find("no_such_file.json"), std::string::npos);
  }
  const auto not_json = write_temp("attune_not_json.json", "this is not json");
  EXPECT_THROW(read_recorded_space(not_json), Error);
  const auto neither = write_temp("attune_neither.json", R"({"hello": 1})");
  try {
    read_recorded_space(neither);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("neither a Kernel Tuner cache"), std::string::npos);
  }
  const auto missing = write_temp("attune_missing.json", R"({"cache": {}, "tune_params": {}})");
  try {
    read_recorded_space(missing);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("tune_params_keys"), std::string::npos);
  }
  try {
    read_recorded_space(kData + "pnpoly_rtx3090.json.gz", 1000000);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("1000000"), std::string::npos);
  }
  // A number beyond double's range is an error about the file, not a crash.
  const auto overflow = write_temp("attune_overflow.json", R"({"cache": {}, "x": 1e999999})");
  EXPECT_THROW(read_recorded_space(overflow), Error);
  for (const auto& p : {not_json, neither, missing, overflow}) std::filesystem::remove(p);
}

TEST(RecordedSpace, KernelTunerErrorStrings) {
  EXPECT_EQ(status_from_kernel_tuner_error("CompilationFailedConfig"), Status::CompileFailed);
  EXPECT_EQ(status_from_kernel_tuner_error("RuntimeFailedConfig"), Status::RuntimeFailed);
  EXPECT_EQ(status_from_kernel_tuner_error("InvalidConfig"), Status::Invalid);
  EXPECT_EQ(status_from_kernel_tuner_error("SomethingElse"), Status::RuntimeFailed);
  EXPECT_EQ(kernel_tuner_error(Status::CompileFailed), "CompilationFailedConfig");
  EXPECT_EQ(kernel_tuner_error(Status::Invalid), "InvalidConfig");
  EXPECT_EQ(kernel_tuner_error(Status::RuntimeFailed), "RuntimeFailedConfig");
  EXPECT_EQ(kernel_tuner_error(Status::Timeout), "RuntimeFailedConfig");
  EXPECT_THROW(kernel_tuner_error(Status::Ok), Error);
}

}  // namespace
}  // namespace attune
