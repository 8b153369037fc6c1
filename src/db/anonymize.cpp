// Host and user names in a shared database become salted SHA-256 hashes (OpenSSL's EVP digest):
// the same name maps to the same hash within one merge, so measurements from one machine still
// group together, but the name cannot be recovered without the salt.

#include "db/anonymize.hpp"

#include <openssl/evp.h>
#include <openssl/rand.h>

#include <cstdio>

#include "attune/error.hpp"

namespace attune::detail {
namespace {

constexpr std::string_view kPrefix = "anon:";

std::string to_hex(const unsigned char* bytes, unsigned n) {
  std::string out;
  out.reserve(2 * n);
  char pair[3];
  for (unsigned i = 0; i < n; ++i) {
    std::snprintf(pair, sizeof pair, "%02x", bytes[i]);
    out += pair;
  }
  return out;
}

void anonymize_sql(sqlite3_context* context, int argc, sqlite3_value** argv) {
  const auto* salt = static_cast<const std::string*>(sqlite3_user_data(context));
  if (argc != 1 || sqlite3_value_type(argv[0]) == SQLITE_NULL) {
    sqlite3_result_null(context);
    return;
  }
  const auto* text = reinterpret_cast<const char*>(sqlite3_value_text(argv[0]));
  const std::string_view name(text, static_cast<std::size_t>(sqlite3_value_bytes(argv[0])));
  try {
    const std::string out = salt ? anonymize_name(name, *salt) : std::string(name);
    sqlite3_result_text(context, out.data(), static_cast<int>(out.size()), SQLITE_TRANSIENT);
  } catch (const std::exception& e) {
    sqlite3_result_error(context, e.what(), -1);
  }
}

}  // namespace

std::string anonymize_name(std::string_view name, std::string_view salt) {
  if (name.empty() || name.starts_with(kPrefix)) return std::string(name);
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned length = 0;
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  const char zero = '\0';
  const bool ok = ctx && EVP_DigestInit_ex(ctx, EVP_sha256(), nullptr) == 1 &&
                  EVP_DigestUpdate(ctx, salt.data(), salt.size()) == 1 &&
                  EVP_DigestUpdate(ctx, &zero, 1) == 1 &&
                  EVP_DigestUpdate(ctx, name.data(), name.size()) == 1 &&
                  EVP_DigestFinal_ex(ctx, digest, &length) == 1;
  EVP_MD_CTX_free(ctx);
  if (!ok) throw Error(ErrorCode::Internal, "OpenSSL's SHA-256 failed while anonymizing a name");
  return std::string(kPrefix) + to_hex(digest, length);
}

std::string random_salt() {
  unsigned char bytes[16];
  if (RAND_bytes(bytes, sizeof bytes) != 1) {
    throw Error(ErrorCode::Internal, "OpenSSL could not draw random bytes for the salt");
  }
  return to_hex(bytes, sizeof bytes);
}

void register_anonymize_function(sqlite3* db, const std::string* salt) {
  sqlite3_create_function_v2(db, "attune_anonymize", 1, SQLITE_UTF8 | SQLITE_DETERMINISTIC,
                             const_cast<std::string*>(salt), anonymize_sql, nullptr, nullptr,
                             nullptr);
}

}  // namespace attune::detail
