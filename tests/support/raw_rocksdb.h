#pragma once

#include <memory>
#include <string>
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

}  // namespace verity::test
