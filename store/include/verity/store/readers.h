#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "verity/core/status.h"
#include "verity/core/time_format.h"
#include "verity/store/aggregate.h"
#include "verity/store/record_scan.h"
#include "verity/store/stored_record.h"

namespace verity::store {

// What query/'s record reads see of the store: lookups by request id, a prediction's chain link,
// and scans in time order. `Store` implements it (the contracts are documented there). All
// thread-safe.
class RecordReader {
 public:
  virtual ~RecordReader() = default;
  virtual Result<std::optional<StoredRecord>> get_prediction(std::string_view request_id) const = 0;
  virtual Result<std::optional<StoredRecord>> get_label(std::string_view request_id) const = 0;
  virtual Result<std::vector<StoredRecord>> get_label_history(
      std::string_view request_id) const = 0;
  virtual Result<std::optional<std::string>> get_chain_link(std::string_view partition,
                                                            uint64_t sequence) const = 0;
  virtual Result<std::unique_ptr<RecordScan>> scan(const ScanRange& range) const = 0;

 protected:
  RecordReader() = default;
  RecordReader(const RecordReader&) = default;
  RecordReader& operator=(const RecordReader&) = default;
};

// What query/'s model reports see of the store: the model-quality aggregates, the model versions
// they cover and the label-join counters. `Store` implements it. All thread-safe.
class AggregateReader {
 public:
  virtual ~AggregateReader() = default;
  virtual Result<Aggregate> aggregate(std::string_view model,
                                      const std::optional<std::string>& version,
                                      EpochMillis from_ms, EpochMillis to_ms) const = 0;
  virtual uint64_t aggregate_generation(std::string_view model,
                                        const std::optional<std::string>& version,
                                        EpochMillis from_ms, EpochMillis to_ms) const = 0;
  virtual std::vector<ModelVersionInfo> model_versions() const = 0;
  virtual LabelCounts label_counts() const = 0;

 protected:
  AggregateReader() = default;
  AggregateReader(const AggregateReader&) = default;
  AggregateReader& operator=(const AggregateReader&) = default;
};

}  // namespace verity::store
