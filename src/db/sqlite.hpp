#pragma once
// A thin RAII layer over the SQLite C API: a connection, prepared statements, and transactions
// that retry when another process holds the write lock. It is the one place where SQLite result
// codes become attune::Error, with the database file named in every message.

#include <sqlite3.h>

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

namespace attune::detail {

class SqliteStatement;

class SqliteConnection {
 public:
  /// Opens (and with `create`, creates) `file`. Throws Error naming the file on failure.
  SqliteConnection(const std::filesystem::path& file, bool read_only, bool create);
  ~SqliteConnection();
  SqliteConnection(const SqliteConnection&) = delete;
  SqliteConnection& operator=(const SqliteConnection&) = delete;

  sqlite3* handle() const noexcept { return db_; }
  const std::filesystem::path& file() const noexcept { return file_; }

  /// Runs one or more statements without results. Throws Error on failure.
  void exec(const std::string& sql);
  /// Throws Error describing `rc` for this database, with `what` saying what was attempted; inside
  /// with_write_transaction a busy database throws BusyError instead, so the transaction retries.
  [[noreturn]] void fail(int rc, std::string_view what) const;
  /// Throws Error: the write lock stayed with another process through every retry.
  [[noreturn]] void fail_locked() const;

  bool in_write_transaction = false;

 private:
  sqlite3* db_ = nullptr;
  std::filesystem::path file_;
};

class SqliteStatement {
 public:
  SqliteStatement(SqliteConnection& db, const std::string& sql);
  ~SqliteStatement();
  SqliteStatement(const SqliteStatement&) = delete;
  SqliteStatement& operator=(const SqliteStatement&) = delete;

  /// Binders use 1-based positions, as SQLite does; each returns *this so calls chain.
  SqliteStatement& bind(int i, std::int64_t v);
  SqliteStatement& bind(int i, double v);
  SqliteStatement& bind(int i, std::string_view v);
  SqliteStatement& bind(int i, const std::optional<double>& v);
  SqliteStatement& bind_null(int i);

  /// Advances; true while a row is available. Throws Error on failure (SQLITE_BUSY included:
  /// the caller's transaction retries).
  bool step();
  /// Runs a statement that returns no rows, then resets it.
  void run();
  void reset();

  bool is_null(int col) const;
  std::int64_t int64(int col) const;
  double real(int col) const;
  std::string text(int col) const;

 private:
  SqliteConnection& db_;
  sqlite3_stmt* stmt_ = nullptr;
};

/// Runs `body` inside BEGIN IMMEDIATE ... COMMIT, retrying the whole transaction when another
/// process holds the write lock past the busy timeout; rolls back on any exception.
template <typename Body>
auto with_write_transaction(SqliteConnection& db, Body&& body) -> decltype(body());

/// True for the SQLite result codes that mean "locked by another connection, try again".
bool is_busy(int rc) noexcept;

struct BusyError {
  int rc;
};

}  // namespace attune::detail

#include "db/sqlite_transaction.inl"
