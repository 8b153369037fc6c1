# Runs the importer fuzzer for SECONDS on a scratch copy of the seed corpus (so new inputs never
# land in the source tree). Exit code 77 (skipped) when the fuzzer could not be built: the
# libFuzzer runtime is missing.
if(NOT EXISTS "${FUZZER}")
  message("fuzzer not built (no libFuzzer runtime?): skipped")
  cmake_language(EXIT 77)
endif()
file(REMOVE_RECURSE "${WORK}")
file(MAKE_DIRECTORY "${WORK}/corpus")
file(GLOB seeds "${CORPUS}/*")
file(COPY ${seeds} DESTINATION "${WORK}/corpus")
execute_process(
  COMMAND "${FUZZER}" -max_total_time=${SECONDS} -rss_limit_mb=2048 -max_len=65536
          -artifact_prefix=${WORK}/ "${WORK}/corpus"
  RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "the importer fuzzer found a failure (exit ${rc}); the input is in ${WORK}")
endif()
