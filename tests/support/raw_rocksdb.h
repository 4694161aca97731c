#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <rocksdb/db.h>
#include <rocksdb/merge_operator.h>

namespace verity::test {

// Descriptors to open Verity's store with RocksDB directly, independently of verity_store. The
// "metrics" and "blocks" families hold merge operands, and RocksDB stops replaying the write-ahead
// log at the first merge of a family without a merge operator (hiding everything written after
// it), so those families get one here: it concatenates operands (tests read the other families
// only; a block summary made so is unreadable, which makes a search read its block).
inline std::vector<rocksdb::ColumnFamilyDescriptor> raw_descriptors(
    const std::vector<std::string>& families) {
  class Concatenate final : public rocksdb::AssociativeMergeOperator {
   public:
    explicit Concatenate(const char* name) : name_(name) {}
    bool Merge(const rocksdb::Slice&, const rocksdb::Slice* existing, const rocksdb::Slice& value,
               std::string* out, rocksdb::Logger*) const override {
      *out = (existing ? existing->ToString() : std::string()) + value.ToString();
      return true;
    }
    const char* Name() const override { return name_; }

   private:
    const char* name_;
  };
  std::vector<rocksdb::ColumnFamilyDescriptor> out;
  for (const auto& f : families) {
    rocksdb::ColumnFamilyOptions o;
    if (f == "metrics") o.merge_operator = std::make_shared<Concatenate>("verity.AggregateSum");
    if (f == "blocks") o.merge_operator = std::make_shared<Concatenate>("verity.BlockSummaryMerge");
    out.emplace_back(f, o);
  }
  return out;
}

// A closed store opened read-write with RocksDB directly, as someone going behind Verity's back
// would (raw_descriptors() above: merge families get a concatenating operator, so flush the store
// before closing it, and do not write to those families here). ok() says whether it opened.
class RawStore {
 public:
  explicit RawStore(const std::string& dir) {
    std::vector<std::string> names;
    if (!rocksdb::DB::ListColumnFamilies(rocksdb::Options(), dir, &names).ok()) return;
    rocksdb::DB* raw = nullptr;
    if (!rocksdb::DB::Open(rocksdb::DBOptions(), dir, raw_descriptors(names), &handles_, &raw).ok())
      return;
    db_.reset(raw);
  }
  ~RawStore() {
    for (auto* h : handles_) (void)db_->DestroyColumnFamilyHandle(h);
  }
  RawStore(const RawStore&) = delete;
  RawStore& operator=(const RawStore&) = delete;

  bool ok() const { return db_ != nullptr; }
  rocksdb::DB& db() { return *db_; }
  // The family called `name`; nullptr when the store has none.
  rocksdb::ColumnFamilyHandle* family(std::string_view name) const {
    for (auto* h : handles_) {
      if (h->GetName() == name) return h;
    }
    return nullptr;
  }

 private:
  std::unique_ptr<rocksdb::DB> db_;
  std::vector<rocksdb::ColumnFamilyHandle*> handles_;
};

}  // namespace verity::test
