#pragma once

#include <memory>
#include <string>
#include <vector>

#include "verity/core/clock.h"
#include "verity/core/units.h"

namespace prometheus {
class Registry;
}
namespace verity::store {
class Store;
struct StoredRecord;
}  // namespace verity::store
namespace verity::document {
struct FieldMappingSet;
}  // namespace verity::document

namespace verity::shippers {

enum class IndexMode {
  kDataStream,  // every document into one data stream (`create` only; needs @timestamp)
  kDated,       // <prefix>YYYY.MM.DD of prediction time
};

struct EsShipperOptions {
  std::vector<std::string> hosts;  // base URLs, tried in order; the next one on connection errors
  IndexMode index_mode = IndexMode::kDataStream;
  std::string data_stream = "logs-verity.predictions-default";
  std::string dated_prefix = "verity-predictions-";
  size_t batch_events = 1000;        // most items in one _bulk request
  ByteSize batch_bytes{5ull << 20};  // most uncompressed bytes in one _bulk request
  Duration flush_interval{1000};     // a partial batch waits at most this long
  bool gzip = true;
  std::string username, password;  // basic auth
  std::string api_key;             // "Authorization: ApiKey <api_key>" (base64 id:key)
  std::string ca_file;             // PEM CAs for https hosts ("" : the system's)
  bool verify_certificate = true;
  bool verify_hostname = true;
  Duration timeout{30'000};  // per request
  Duration initial_backoff{200};
  Duration max_backoff{30'000};
  // Above this many unshipped events /readyz reports the backlog (nothing is dropped).
  uint64_t max_backlog_events = 10'000'000;
};

// The source the shipper sends for a stored prediction: {"@timestamp", "verity": {request_id,
// model, version, input, partition, sequence, ingest_time, masking_version, digest}, "document":
// <the stored (masked) document>}. The document is nested, never merged, so its own fields cannot
// collide with ours. mappings/ maps every field of it.
// With a `label`: "label": label_fields(...) as well.
std::string es_source(const store::StoredRecord& record, const store::StoredRecord* label = nullptr,
                      const document::FieldMappingSet* fields = nullptr);
// {"ground_truth": <the label's ground truth>, "label_time", and "correct" (the predicted value
// equals the ground truth; both strings or booleans) or "error" (predicted minus ground truth; both
// numbers)}. The predicted value and the ground truth are found with the model's field mapping
// (`fields`, or DESIGN.md's defaults when null).
std::string label_fields(const store::StoredRecord& prediction, const store::StoredRecord& label,
                         const document::FieldMappingSet* fields);

// Forwards every committed prediction to Elasticsearch's _bulk API, at least once, with ids that
// make it exactly once in effect: it reads the store's outbox from the durable checkpoint, sends
// `create` actions whose _id is the request id, and moves the checkpoint only past items that were
// delivered (2xx, or 409 on our own _id) or dead-lettered (item 400/404: written to the store's
// dead-letter store with Elasticsearch's error type and reason). Item 429/5xx and failed requests
// (connection errors, timeouts, 429, 502, 503, 504) are retried, only the failed items, with capped
// exponential backoff and jitter; 413 splits the batch; 401/403 pause shipping (a metric and one
// log line) without dropping anything. A restart resumes from the checkpoint and re-sends at most
// one batch, which Elasticsearch answers 409 for what it already has.
class EsShipper {
 public:
  // `fields` locates predicted values and ground truths for label fields (null: the defaults).
  EsShipper(store::Store& store, EsShipperOptions options, const Clock& clock,
            prometheus::Registry& registry,
            std::shared_ptr<const document::FieldMappingSet> fields = nullptr);
  ~EsShipper();  // stop()
  EsShipper(const EsShipper&) = delete;
  EsShipper& operator=(const EsShipper&) = delete;

  void start();
  // Stops after the request in flight (which a restart re-sends). Idempotent.
  void stop();
  // Why /readyz should say not ready ("" when fine): backlog over the limit, or paused by 401/403.
  std::string problem() const;

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace verity::shippers
