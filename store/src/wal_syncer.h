#pragma once

#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>

#include <rocksdb/db.h>

#include "verity/core/status.h"

namespace verity::store {

// Runs RocksDB's SyncWAL on a thread of its own, one request at a time, so the commit thread can
// build and write the next group (without a sync) while the previous group's WAL is being synced.
// A sync that starts after a Write returned makes that write durable (the WAL is one sequential
// file); the commit thread acknowledges a group only after such a sync succeeded. The commit thread
// owns the database's lifetime and never closes it while a sync runs (it waits first).
class WalSyncer {
 public:
  // `on_done` runs on the sync thread after each sync (to wake the commit thread).
  explicit WalSyncer(std::function<void()> on_done);
  ~WalSyncer();
  WalSyncer(const WalSyncer&) = delete;
  WalSyncer& operator=(const WalSyncer&) = delete;

  // Starts a sync of `db`'s WAL. At most one runs: the previous one must have been waited for.
  void start(rocksdb::DB* db);
  bool running() const;
  // True when the sync started last has ended (its result is waiting for wait()).
  bool done() const;
  // Blocks until the running sync ends and returns its result.
  Status wait();

 private:
  void run();

  std::function<void()> on_done_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  rocksdb::DB* db_ = nullptr;  // the database to sync; null when no request waits
  bool running_ = false, done_ = false, stopping_ = false;
  Status result_;
  std::thread thread_;
};

}  // namespace verity::store
