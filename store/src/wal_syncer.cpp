#include "wal_syncer.h"

#include <utility>

#include "store_impl.h"
#include "verity/core/guard.h"
#include "verity/core/thread_name.h"

namespace verity::store {

WalSyncer::WalSyncer(std::function<void()> on_done) : on_done_(std::move(on_done)) {
  thread_ = std::thread([this] { run(); });
  set_thread_name(thread_, "verity-walsync");
}

WalSyncer::~WalSyncer() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

void WalSyncer::start(rocksdb::DB* db) {
  {
    std::lock_guard lock(mu_);
    db_ = db;
    running_ = true;
    done_ = false;
  }
  cv_.notify_all();
}

bool WalSyncer::running() const {
  std::lock_guard lock(mu_);
  return running_;
}

bool WalSyncer::done() const {
  std::lock_guard lock(mu_);
  return running_ && done_;
}

Status WalSyncer::wait() {
  std::unique_lock lock(mu_);
  cv_.wait(lock, [&] { return !running_ || done_; });
  if (!running_) return Status::ok();  // nothing was started
  running_ = false;
  return std::move(result_);
}

void WalSyncer::run() {
  std::unique_lock lock(mu_);
  while (true) {
    cv_.wait(lock, [&] { return db_ != nullptr || stopping_; });
    if (db_ == nullptr) return;  // stopping, nothing requested
    rocksdb::DB* db = std::exchange(db_, nullptr);
    lock.unlock();
    Status s = guarded("syncing the write-ahead log", [&] {
      const rocksdb::Status st = db->SyncWAL();
      return st.ok() ? Status::ok() : from_rocksdb(st, "syncing the write-ahead log");
    });
    lock.lock();
    result_ = std::move(s);
    done_ = true;
    cv_.notify_all();
    lock.unlock();
    on_done_();
    lock.lock();
  }
}

}  // namespace verity::store
