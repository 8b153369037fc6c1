// The SQLite boundary: opening a database file with the settings every attune connection needs
// (WAL journal, a busy timeout, foreign keys), prepared statements, and the translation of SQLite
// result codes into attune::Error messages that name the file and say what to do.

#include "db/sqlite.hpp"

#include "attune/error.hpp"

namespace attune::detail {
namespace {

constexpr int kBusyTimeoutMs = 10000;

}  // namespace

bool is_busy(int rc) noexcept {
  const int primary = rc & 0xff;
  return primary == SQLITE_BUSY || primary == SQLITE_LOCKED;
}

SqliteConnection::SqliteConnection(const std::filesystem::path& file, bool read_only, bool create)
    : file_(file) {
  int flags = read_only ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE;
  if (create && !read_only) flags |= SQLITE_OPEN_CREATE;
  flags |= SQLITE_OPEN_NOMUTEX;
  const int rc = sqlite3_open_v2(file.c_str(), &db_, flags, nullptr);
  if (rc != SQLITE_OK) {
    std::string reason = db_ ? sqlite3_errmsg(db_) : sqlite3_errstr(rc);
    sqlite3_close(db_);
    db_ = nullptr;
    if (!read_only && (rc & 0xff) == SQLITE_CANTOPEN) {
      throw Error(ErrorCode::Io, "cannot open the tuning database '" + file.string() + "' (" +
                                     reason +
                                     "): check that its directory exists and is writable, or "
                                     "choose another file with --db or ATTUNE_DB");
    }
    throw Error((rc & 0xff) == SQLITE_CANTOPEN ? ErrorCode::NotFound : ErrorCode::Io,
                "cannot open the tuning database '" + file.string() + "': " + reason);
  }
  sqlite3_extended_result_codes(db_, 1);
  sqlite3_busy_timeout(db_, kBusyTimeoutMs);
}

SqliteConnection::~SqliteConnection() { sqlite3_close_v2(db_); }

void SqliteConnection::exec(const std::string& sql) {
  char* message = nullptr;
  const int rc = sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &message);
  if (rc != SQLITE_OK) {
    std::string text = message ? message : sqlite3_errstr(rc);
    sqlite3_free(message);
    fail(rc, text);
  }
}

void SqliteConnection::fail(int rc, std::string_view what) const {
  if (in_write_transaction && is_busy(rc)) throw BusyError{rc};
  const int primary = rc & 0xff;
  const std::string name = "the tuning database '" + file_.string() + "'";
  const std::string detail = db_ ? sqlite3_errmsg(db_) : sqlite3_errstr(rc);
  switch (primary) {
    case SQLITE_NOTADB:
      throw Error(ErrorCode::InvalidArgument,
                  "'" + file_.string() +
                      "' is not an SQLite database (or is encrypted): point --db or ATTUNE_DB at "
                      "a tuning database, or move this file aside to start a new one");
    case SQLITE_CORRUPT:
      throw Error(ErrorCode::Io, name + " is corrupt (" + detail +
                                     "): restore it from a copy, or move it aside to start a new "
                                     "one; 'sqlite3 FILE .recover' may save its contents");
    case SQLITE_READONLY:
      throw Error(ErrorCode::Io, "cannot write to " + name + " (" + detail +
                                     "): it or its directory is read-only; make it writable or "
                                     "choose another file with --db or ATTUNE_DB");
    case SQLITE_FULL:
      throw Error(ErrorCode::Io, "the disk holding " + name + " is full: free space and retry");
    case SQLITE_CANTOPEN:
    case SQLITE_IOERR:
      throw Error(ErrorCode::Io, "cannot read or write " + name + " (" + detail +
                                     "): check the file, its directory and the disk");
    default:
      if (is_busy(rc)) fail_locked();
      throw Error(ErrorCode::Io, name + ": " + std::string(what) + " failed: " + detail);
  }
}

void SqliteConnection::fail_locked() const {
  throw Error(ErrorCode::Io, "the tuning database '" + file_.string() +
                                 "' stayed locked by another process for too long; retry when "
                                 "the other attune process has finished");
}

SqliteStatement::SqliteStatement(SqliteConnection& db, const std::string& sql) : db_(db) {
  const int rc = sqlite3_prepare_v3(db.handle(), sql.c_str(), static_cast<int>(sql.size()),
                                    SQLITE_PREPARE_PERSISTENT, &stmt_, nullptr);
  if (rc != SQLITE_OK) db.fail(rc, "preparing '" + sql + "'");
}

SqliteStatement::~SqliteStatement() { sqlite3_finalize(stmt_); }

SqliteStatement& SqliteStatement::bind(int i, std::int64_t v) {
  sqlite3_bind_int64(stmt_, i, v);
  return *this;
}

SqliteStatement& SqliteStatement::bind(int i, double v) {
  sqlite3_bind_double(stmt_, i, v);
  return *this;
}

SqliteStatement& SqliteStatement::bind(int i, std::string_view v) {
  sqlite3_bind_text(stmt_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
  return *this;
}

SqliteStatement& SqliteStatement::bind(int i, const std::optional<double>& v) {
  return v ? bind(i, *v) : bind_null(i);
}

SqliteStatement& SqliteStatement::bind_null(int i) {
  sqlite3_bind_null(stmt_, i);
  return *this;
}

bool SqliteStatement::step() {
  const int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  sqlite3_reset(stmt_);
  db_.fail(rc, std::string("running '") + sqlite3_sql(stmt_) + "'");
}

void SqliteStatement::run() {
  while (step()) {
  }
  reset();
}

void SqliteStatement::reset() {
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
}

bool SqliteStatement::is_null(int col) const {
  return sqlite3_column_type(stmt_, col) == SQLITE_NULL;
}

std::int64_t SqliteStatement::int64(int col) const { return sqlite3_column_int64(stmt_, col); }

double SqliteStatement::real(int col) const { return sqlite3_column_double(stmt_, col); }

std::string SqliteStatement::text(int col) const {
  const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, col));
  return p ? std::string(p, static_cast<std::size_t>(sqlite3_column_bytes(stmt_, col)))
           : std::string();
}

}  // namespace attune::detail
