#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/unordered/unordered_flat_map.hpp>

#include "verity/core/time_format.h"

namespace verity::store {

// What the values of many records hold, path by path: a block summary. The store keeps one per
// model version and 10 minutes of prediction time (kBlockMillis) of each day, and a search skips
// the blocks whose summary says no record in them can match (search.h). Conservative by
// construction: a summary may admit values no record holds, never the reverse.
//
// Per dotted path (every scalar leaf of a document, arrays looked through, as KQL finds values):
// which kinds of value occur (string, number, true, false, null), the least and greatest number,
// and up to kMaxStrings distinct strings (as 64-bit hashes; past that "many": equality on a
// field of many values is what a field index is for, search.indexed_fields). A summary of more
// than kMaxPaths paths, or of a document it could not read whole, knows nothing
// (`complete() == false`): every query may match.
class BlockSummary {
 public:
  static constexpr EpochMillis kBlockMillis = 600'000;
  static constexpr size_t kMaxPaths = 512;
  static constexpr size_t kMaxPathBytes = 256;
  static constexpr size_t kMaxStrings = 16;

  enum Kind : uint8_t { kString = 1, kNumber = 2, kTrue = 4, kFalse = 8, kNull = 16 };
  struct Field {
    uint8_t kinds = 0;
    double min = 0, max = 0;  // of the numbers (when kinds has kNumber)
    bool many_strings = false;
    std::vector<uint64_t> strings;  // sorted hashes of the distinct strings, unless many_strings
  };

  // The 64-bit hash that lists a string (FNV-1a: stable across versions, stored).
  static uint64_t string_hash(std::string_view s);

  void add_string(std::string_view path, std::string_view s);
  void add_number(std::string_view path, double x);
  void add_bool(std::string_view path, bool b);
  void add_null(std::string_view path);
  // What it summarises can no longer be told path by path (a document too deep to read whole).
  void give_up();
  // Starts a record: its leaves are looked up in the order of the record before (below).
  void count_record() {
    ++records_;
    memo_.at = 0;
  }

  void merge(const BlockSummary& other);
  std::string encode() const;
  // nullopt when the bytes are not a summary.
  static std::optional<BlockSummary> decode(std::string_view bytes);

  bool complete() const { return complete_; }
  uint64_t records() const { return records_; }
  // The path's summary, or null when no record of the block holds a value there (complete only).
  const Field* field(std::string_view path) const;
  // Whether some record holds a value other than null at a path below `path` (`path.` + more).
  bool has_value_below(std::string_view path) const;
  // Whether the path may hold the string (the set when listed, else any string).
  static bool may_hold_string(const Field& f, std::string_view s);
  struct PathHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  struct PathEqual {
    using is_transparent = void;
    bool operator()(std::string_view a, std::string_view b) const { return a == b; }
  };
  // Unordered: a document's every leaf is looked up here (encode() writes them sorted).
  using Fields = boost::unordered_flat_map<std::string, Field, PathHash, PathEqual>;
  const Fields& fields() const { return fields_; }

 private:
  Field* slot(std::string_view path);
  void overflow();
  // The entries the previous record's leaves found, in its order. Records of a block share their
  // shape, so the n-th leaf of a record is nearly always the n-th of the one before: one string
  // comparison instead of hashing the path. Pointers into fields_: cleared when an insertion may
  // have moved the entries, and never copied or moved with the summary.
  struct Memo {
    std::vector<Fields::value_type*> entries;
    size_t at = 0;
    Memo() = default;
    Memo(const Memo&) {}
    Memo(Memo&&) noexcept {}
    Memo& operator=(const Memo&) {
      clear();
      return *this;
    }
    Memo& operator=(Memo&&) noexcept {
      clear();
      return *this;
    }
    void clear() {
      entries.clear();
      at = 0;
    }
  };
  bool complete_ = true;
  uint64_t records_ = 0;
  Fields fields_;
  Memo memo_;
};

// One index lookup: the records holding `token` at the indexed field `field`.
struct IndexTerm {
  std::string field;
  std::string token;
};

// What the store asks of the query side for every prediction it stores: the field-index tokens
// (search.indexed_fields) and the prediction's part of its block summary. Implemented in query/
// (search_indexer.h), which knows KQL's reading of a document; called on the threads that
// prepare batches and at open when the index is rebuilt. Deterministic and thread-safe.
class Indexer {
 public:
  virtual ~Indexer() = default;
  // Names what the indexer produces (its indexed fields and format): when it differs from the one
  // a store was last written with, the store rebuilds its field index and summaries at open.
  virtual std::string spec() const = 0;
  // Whether the indexer adds to block summaries (search.block_summaries).
  virtual bool summarizes() const = 0;
  // Whether predictions of `model` get terms of `field` (search.indexed_fields).
  virtual bool indexes(std::string_view model, std::string_view field) const = 0;
  // Appends the prediction's field-index terms to `terms` (none when its model indexes no field)
  // and, when it summarizes(), adds its values to `summary`.
  virtual void index(std::string_view model, std::string_view version, std::string_view document,
                     std::vector<IndexTerm>& terms, BlockSummary& summary) const = 0;
};

}  // namespace verity::store
