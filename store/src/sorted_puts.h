#pragma once

#include <algorithm>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <rocksdb/write_batch.h>

namespace verity::store {

// Puts of one column family collected while a commit group is built, then added to its WriteBatch
// in key order. RocksDB inserts a batch into a memtable's skip list in batch order, reusing the
// last insert's position (its "splice"): a key after the previous one searches only the lowest
// levels, a key before it searches from the top. Request ids are random and the time index
// interleaves model versions, so in event order about every other insert searched the whole list
// (~45% of the commit thread's time at 1M events, `perf record`); in key order they are nearly
// appends. Keys and values are copied into one reused buffer: no allocation per entry once it has
// grown. Entries with equal keys keep the order they were added in (the last one wins, as in event
// order).
class SortedPuts {
 public:
  // Appends key and value, built in place by the caller: begin() returns the buffer to append the
  // key to, key_done() marks where the key ends, begin_value() returns the buffer to append the
  // value to, end() marks where the value ends.
  std::string& begin() {
    start_ = buf_.size();
    return buf_;
  }
  void key_done() { key_end_ = buf_.size(); }
  std::string& begin_value() { return buf_; }
  void end() {
    entries_.push_back({start_, static_cast<uint32_t>(key_end_ - start_),
                        static_cast<uint32_t>(buf_.size() - key_end_),
                        static_cast<uint32_t>(entries_.size())});
  }
  void put(std::string_view key, std::string_view value) {
    begin().append(key);
    key_done();
    buf_.append(value);
    end();
  }
  bool empty() const { return entries_.empty(); }

  // Adds every entry to `wb` under `cf` in key order and clears this.
  rocksdb::Status flush_into(rocksdb::WriteBatch& wb, rocksdb::ColumnFamilyHandle* cf) {
    const char* base = buf_.data();
    std::sort(entries_.begin(), entries_.end(), [base](const Entry& a, const Entry& b) {
      const std::string_view ka(base + a.offset, a.key_size), kb(base + b.offset, b.key_size);
      if (const int c = ka.compare(kb); c != 0) return c < 0;
      return a.order < b.order;
    });
    rocksdb::Status s;
    for (const Entry& e : entries_) {
      s = wb.Put(cf, rocksdb::Slice(base + e.offset, e.key_size),
                 rocksdb::Slice(base + e.offset + e.key_size, e.value_size));
      if (!s.ok()) break;
    }
    clear();
    return s;
  }
  void clear() {
    entries_.clear();
    // Keep the buffer across groups unless one made it large.
    if (buf_.capacity() > (16u << 20)) {
      std::string().swap(buf_);
    } else {
      buf_.clear();
    }
  }

 private:
  struct Entry {
    size_t offset;
    uint32_t key_size, value_size, order;
  };
  std::string buf_;
  std::vector<Entry> entries_;
  size_t start_ = 0, key_end_ = 0;
};

}  // namespace verity::store
