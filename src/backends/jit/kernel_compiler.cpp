// Compiles one configuration of a C++ kernel with the system compiler: a generated translation
// unit includes the user's source and exports attune_jit_entry; parameters arrive as -D options.
// Objects are cached on disk under a hash of the source text, the generated text, the compiler's
// identity, the flags and the defines, so a configuration compiled once (by this process or an
// earlier run) costs no compile again.

#include "kernel_compiler.hpp"

#include <sys/wait.h>
#include <unistd.h>
#include <xxhash.h>

#include <atomic>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <sstream>
#include <system_error>

#include "attune/error.hpp"
#include "core/subprocess.hpp"

namespace attune::jit::detail {

using attune::detail::CapturedRun;
using attune::detail::describe_wait_status;
using attune::detail::run_captured;
namespace {

// Bumped when the wrapper or the compile command changes in a way the key does not capture.
constexpr std::string_view kCacheDomain = "attune-jit-cache/1";
constexpr std::size_t kExcerptLines = 8;
constexpr std::size_t kExcerptChars = 1500;

std::atomic<std::uint64_t> temp_counter{0};

std::optional<std::string> read_text(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) return std::nullopt;
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

// A name in the cache directory that no other thread or process uses at the same time.
std::filesystem::path temp_name(const std::filesystem::path& final_name) {
  return final_name.string() + ".tmp-" + std::to_string(::getpid()) + '-' +
         std::to_string(temp_counter.fetch_add(1));
}

// Writes `text` to `file` so that `file` never exists half-written.
bool write_atomically(const std::filesystem::path& file, const std::string& text) {
  const std::filesystem::path temp = temp_name(file);
  {
    std::ofstream out(temp, std::ios::binary | std::ios::trunc);
    if (!out) return false;
    out << text;
    out.close();
    if (!out) return false;
  }
  std::error_code error;
  std::filesystem::rename(temp, file, error);
  if (error) std::filesystem::remove(temp, error);
  return !error;
}

void hash_text(XXH3_state_t* state, std::string_view text) {
  const std::uint64_t n = text.size();
  XXH3_128bits_update(state, &n, sizeof n);
  XXH3_128bits_update(state, text.data(), text.size());
}

std::string seconds_text(double seconds) {
  std::ostringstream out;
  out << seconds;
  return out.str();
}

std::vector<std::string> split_lines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

}  // namespace

std::string compiler_log_excerpt(const std::string& log) {
  const std::vector<std::string> lines = split_lines(log);
  std::size_t first = lines.size();
  std::size_t errors = 0;
  for (std::size_t i = 0; i < lines.size(); ++i) {
    if (lines[i].find("error:") == std::string::npos) continue;
    if (first == lines.size()) first = i;
    ++errors;
  }
  if (first == lines.size()) {
    // No line says "error:" (a compiler killed by a signal, an unusual compiler): its last words.
    first = lines.size() > kExcerptLines ? lines.size() - kExcerptLines : 0;
    errors = 0;
  } else if (first > 0 && lines[first - 1].find(": In ") != std::string::npos) {
    --first;  // "file: In function 'f':" says where the error is
  }
  std::string out;
  for (std::size_t i = first; i < lines.size() && i < first + kExcerptLines; ++i) {
    if (out.size() + lines[i].size() > kExcerptChars) break;
    out += (out.empty() ? "" : "\n") + lines[i];
  }
  if (errors > 1) out += "\n(" + std::to_string(errors - 1) + " more error lines)";
  return out;
}

KernelCompiler::KernelCompiler(std::string compiler, std::vector<std::string> flags,
                               std::filesystem::path cache_dir, double timeout_s)
    : compiler_(std::move(compiler)),
      flags_(std::move(flags)),
      cache_dir_(std::move(cache_dir)),
      timeout_s_(timeout_s) {
  std::error_code error;
  std::filesystem::create_directories(cache_dir_, error);
  if (error) {
    throw Error(ErrorCode::Io, "cannot create the JIT cache directory " + cache_dir_.string() +
                                   ": " + error.message() + "; set JitOptions::cache_dir");
  }
  const CapturedRun version = run_captured({compiler_, "--version"}, 30.0);
  if (version.timed_out || !WIFEXITED(version.wait_status) ||
      WEXITSTATUS(version.wait_status) != 0) {
    throw Error(ErrorCode::NotFound,
                "the C++ compiler `" + compiler_ + "` does not answer `--version` (" +
                    (version.timed_out ? std::string("no answer in 30 s")
                                       : describe_wait_status(version.wait_status)) +
                    "); set the spec's compiler to a working C++ compiler");
  }
  compiler_identity_ = compiler_ + '\n' + version.output;
}

std::string KernelCompiler::wrapper_source(const std::filesystem::path& source,
                                           const std::string& entry,
                                           const std::vector<ArgumentSpec>& arguments) {
  std::string out = "// Generated by attune: the entry point attune-jit-worker calls for `" +
                    entry +
                    "`.\n"
                    "#include <stdint.h>\n"
                    "#include \"" +
                    source.string() +
                    "\"\n\n"
                    "extern \"C\" __attribute__((visibility(\"default\"))) void attune_jit_entry("
                    "void* const* args) {\n  " +
                    entry + "(";
  for (std::size_t i = 0; i < arguments.size(); ++i) {
    const ArgumentSpec& arg = arguments[i];
    const std::string type(cpp_type_name(arg.type));
    const std::string slot = "args[" + std::to_string(i) + "]";
    out += i == 0 ? "\n      " : ",\n      ";
    out += arg.kind == ArgumentSpec::Kind::Buffer ? "static_cast<" : "*static_cast<const ";
    out += type;
    out += "*>(";
    out += slot;
    out += ')';
  }
  out += ");\n}\n";
  return out;
}

CompileResult KernelCompiler::compile(const std::filesystem::path& source, const std::string& entry,
                                      const std::vector<ArgumentSpec>& arguments,
                                      const std::vector<std::string>& defines) const {
  CompileResult result;
  const auto fail = [&result](std::string message) {
    result.status = Status::CompileFailed;
    result.message = std::move(message);
    return result;
  };
  const std::optional<std::string> text = read_text(source);
  if (!text) return fail("cannot read the kernel source " + source.string());
  const std::string wrapper = wrapper_source(source, entry, arguments);

  XXH3_state_t* state = XXH3_createState();
  XXH3_128bits_reset(state);
  hash_text(state, kCacheDomain);
  hash_text(state, compiler_identity_);
  for (const std::string& flag : flags_) hash_text(state, flag);
  hash_text(state, "--");
  for (const std::string& define : defines) hash_text(state, define);
  hash_text(state, wrapper);
  hash_text(state, *text);
  const XXH128_hash_t hash = XXH3_128bits_digest(state);
  XXH3_freeState(state);
  char hex[33];
  std::snprintf(hex, sizeof hex, "%016llx%016llx", static_cast<unsigned long long>(hash.high64),
                static_cast<unsigned long long>(hash.low64));

  result.library = cache_dir_ / (std::string(hex) + ".so");
  std::error_code error;
  if (std::filesystem::exists(result.library, error)) {
    result.cache_hit = true;
    return result;
  }
  // Kept beside the object: the compiler's messages name it, and a person can read it.
  const std::filesystem::path unit = cache_dir_ / (std::string(hex) + ".cpp");
  if (!std::filesystem::exists(unit, error) && !write_atomically(unit, wrapper)) {
    return fail("cannot write " + unit.string() + " in the JIT cache directory");
  }

  const std::filesystem::path temp = temp_name(result.library);
  std::vector<std::string> command{compiler_};
  command.insert(command.end(), flags_.begin(), flags_.end());
  command.insert(command.end(), defines.begin(), defines.end());
  // Hidden visibility: the kernel's functions are not interposable, so the compiler may inline
  // them into one another as in an executable; only attune_jit_entry is exported.
  for (const char* option : {"-fPIC", "-shared", "-fvisibility=hidden", "-o"}) {
    command.emplace_back(option);
  }
  command.push_back(temp.string());
  command.push_back(unit.string());

  CapturedRun run;
  try {
    run = run_captured(command, timeout_s_);
  } catch (const Error& e) {
    return fail(e.what());
  }
  const bool ok = !run.timed_out && WIFEXITED(run.wait_status) &&
                  WEXITSTATUS(run.wait_status) == 0 && std::filesystem::exists(temp, error);
  if (!ok) {
    std::filesystem::remove(temp, error);
    if (run.timed_out) {
      return fail("the compiler did not finish within " + seconds_text(timeout_s_) +
                  " s and was stopped (JitOptions::compile_timeout_s)");
    }
    return fail("the compiler " + describe_wait_status(run.wait_status) + ":\n" +
                compiler_log_excerpt(run.output));
  }
  std::filesystem::rename(temp, result.library, error);
  if (error) {
    std::filesystem::remove(temp, error);
    return fail("cannot move the compiled kernel into " + result.library.string());
  }
  return result;
}

}  // namespace attune::jit::detail
