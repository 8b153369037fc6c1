#pragma once
// Template body of with_write_transaction (see sqlite.hpp).

#include <chrono>
#include <exception>
#include <thread>
#include <type_traits>

namespace attune::detail {

template <typename Body>
auto with_write_transaction(SqliteConnection& db, Body&& body) -> decltype(body()) {
  // The busy timeout already waits for the lock; a retry covers the cases SQLite cannot wait out
  // (a deferred reader upgrading, a WAL checkpoint racing a writer), with a bounded total wait.
  constexpr int kAttempts = 50;
  struct Flag {
    SqliteConnection& db;
    explicit Flag(SqliteConnection& d) : db(d) { db.in_write_transaction = true; }
    ~Flag() { db.in_write_transaction = false; }
  } flag(db);
  for (int attempt = 1;; ++attempt) {
    try {
      db.exec("BEGIN IMMEDIATE");
    } catch (const BusyError&) {
      if (attempt == kAttempts) db.fail_locked();
      std::this_thread::sleep_for(std::chrono::milliseconds(20 * attempt));
      continue;
    }
    try {
      if constexpr (std::is_void_v<decltype(body())>) {
        body();
        db.exec("COMMIT");
        return;
      } else {
        auto value = body();
        db.exec("COMMIT");
        return value;
      }
    } catch (const BusyError&) {
      sqlite3_exec(db.handle(), "ROLLBACK", nullptr, nullptr, nullptr);
      if (attempt == kAttempts) db.fail_locked();
      std::this_thread::sleep_for(std::chrono::milliseconds(20 * attempt));
    } catch (...) {
      sqlite3_exec(db.handle(), "ROLLBACK", nullptr, nullptr, nullptr);
      throw;
    }
  }
}

}  // namespace attune::detail
