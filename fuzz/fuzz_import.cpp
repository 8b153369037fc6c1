// libFuzzer target for the importers: each input is written to a file and read as a Kernel Tuner
// cache or T4 file (gzip or plain, possibly truncated), imported into an in-memory tuning
// database, and exported again in both formats. Any crash, sanitizer report or exception other
// than attune::Error is a bug; an Error is the importer correctly refusing bad input.

#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>

#include "attune/error.hpp"
#include "attune/recorded_space.hpp"
#include "attune/tuning_database.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  // One scratch file for every input, removed when the fuzzer exits.
  static const struct ScratchFile {
    std::string path;
    ScratchFile() {
      char pattern[] = "/tmp/attune_fuzz_XXXXXX";
      const int fd = mkstemp(pattern);
      if (fd >= 0) close(fd);
      path = pattern;
    }
    ~ScratchFile() { std::remove(path.c_str()); }
  } scratch;
  const std::string& file = scratch.path;
  if (std::FILE* f = std::fopen(file.c_str(), "wb")) {
    std::fwrite(data, 1, size, f);
    std::fclose(f);
  } else {
    return 0;
  }
  try {
    // A small cap keeps a decompression bomb from exhausting memory; it is itself under test.
    const attune::RecordedSpace space = attune::read_recorded_space(file, 8u << 20);
    attune::TuningDatabase db(":memory:");
    const attune::ImportReport report = db.import_recorded(space, file);
    const attune::RecordedSpace back = db.export_recorded(report.key_hash);
    (void)attune::to_kernel_tuner_json(back).dump();
    (void)attune::to_t4_json(back).dump();
  } catch (const attune::Error&) {
  }
  return 0;
}
