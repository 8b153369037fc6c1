#pragma once
// Salted SHA-256 of host and user names, for databases that leave the machine they were made on.

#include <sqlite3.h>

#include <string>
#include <string_view>

namespace attune::detail {

/// "anon:" followed by the 64 hex digits of SHA-256(salt, 0, name). Empty names and names that
/// are already anonymized are returned unchanged, so anonymizing twice changes nothing.
std::string anonymize_name(std::string_view name, std::string_view salt);

/// 32 random hex digits from the operating system's generator.
std::string random_salt();

/// Registers the SQL function attune_anonymize(text) on `db`: anonymize_name with `*salt`, or the
/// identity when `salt` is null. `salt` must outlive the connection's use of the function.
void register_anonymize_function(sqlite3* db, const std::string* salt);

}  // namespace attune::detail
