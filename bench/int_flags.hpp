#pragma once
/// \file
/// `--name N` integer flags for the small benchmark programs that do not use Google Benchmark.

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <initializer_list>
#include <limits>

namespace attune::bench {

/// One flag and where its value goes.
struct IntFlag {
  const char* name;  ///< e.g. "--size"
  int* value;
};

/// Reads `--name N` pairs from argv[1..] into the flags' values. An unknown flag, a flag without
/// a value or a value that is not a whole int prints what is wrong and `usage` to stderr and
/// exits with status 2. Range checks are the caller's.
inline void parse_int_flags(int argc, char** argv, std::initializer_list<IntFlag> flags,
                            const char* usage) {
  for (int i = 1; i < argc; ++i) {
    const IntFlag* flag = nullptr;
    for (const IntFlag& f : flags) {
      if (std::strcmp(argv[i], f.name) == 0) flag = &f;
    }
    if (flag == nullptr) {
      std::fprintf(stderr, "unknown flag '%s'\n%s\n", argv[i], usage);
      std::exit(2);
    }
    if (i + 1 >= argc) {
      std::fprintf(stderr, "%s needs a value\n%s\n", flag->name, usage);
      std::exit(2);
    }
    const char* text = argv[++i];
    char* end = nullptr;
    errno = 0;
    const long value = std::strtol(text, &end, 10);
    if (end == text || *end != '\0' || errno == ERANGE || value < std::numeric_limits<int>::min() ||
        value > std::numeric_limits<int>::max()) {
      std::fprintf(stderr, "%s: '%s' is not an integer\n%s\n", flag->name, text, usage);
      std::exit(2);
    }
    *flag->value = static_cast<int>(value);
  }
}

}  // namespace attune::bench
