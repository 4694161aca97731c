#pragma once

#include <memory>
#include <string>

#include "verity/core/clock.h"
#include "verity/core/units.h"
#include "verity/shippers/es_config.h"
#include "verity/shippers/http_client.h"

namespace prometheus {
class Registry;
}
namespace verity::store {
class OutboxSource;
}  // namespace verity::store
namespace verity::document {
struct FieldMappingSet;
}  // namespace verity::document

namespace verity::shippers {

// How the shipper waits between retries. The real one waits on the clock of the machine and wakes
// at stop(); tests use one that advances a ManualClock and returns at once.
class Sleeper {
 public:
  virtual ~Sleeper() = default;
  // Waits `d`; returns true when the shipper is stopping (stop the wait early).
  virtual bool sleep_for(Duration d) = 0;
  // Wakes a sleep_for in progress, and every later one returns true at once.
  virtual void stop() = 0;
};

// Forwards every committed prediction to Elasticsearch's _bulk API, at least once, with ids that
// make it exactly once in effect: it reads the store's outbox from the durable checkpoint, sends
// `create` actions whose _id is the request id, sets labels and deletes erased copies by query,
// and moves the checkpoint only past entries that were delivered or dead-lettered.
//
// Outcomes (retry_policy.h): delivered (2xx, or 409 on our own _id); retried with capped
// exponential backoff and jitter, only the items concerned (connection errors, timeouts, 408, 429,
// 5xx; by-query conflicts and timeouts); split in halves when Elasticsearch answers 413 or refuses
// a whole request, down to one item; refused for good (any other 4xx, for a bulk item, a by-query
// failure or a single-item request) and records that cannot be turned into a request at all
// (their stored document is not JSON, the record is unreadable): written to the store's
// dead-letter store (input `es_shipper`, the type and reason) before the checkpoint moves past
// them, so a poison record never blocks or kills anything. 401/403 pause shipping (a metric, one
// log line, /readyz) without dropping anything. A restart resumes from the checkpoint and re-sends
// at most one batch, which Elasticsearch answers 409 for what it already has.
//
// Dead letters (options.dead_letters): the entries of the store's dead-letter store (rejects,
// conflicts, and this shipper's own) are forwarded the same way, from a checkpoint of their own
// (OutboxSource::ack_dead_letters), as `create` actions with _id "dl-<sequence>" into their data
// stream or dated indices (dead_letter_encoder.h). They ride in the same requests after a step's
// predictions, which keep priority: a step takes what room its predictions leave, and at least a
// tenth of a batch. Same outcomes and retries, except that one refused for good is counted and
// logged, never dead-lettered again. While Elasticsearch is down they wait in the store.
class EsShipper {
 public:
  // `fields` locates predicted values and ground truths for label fields (null: the defaults).
  // `client` and `sleeper` are seams for tests (null: libcurl with the options' TLS settings, and
  // the real clock).
  EsShipper(store::OutboxSource& source, EsShipperOptions options, const Clock& clock,
            prometheus::Registry& registry,
            std::shared_ptr<const document::FieldMappingSet> fields = nullptr,
            std::unique_ptr<HttpClient> client = nullptr,
            std::unique_ptr<Sleeper> sleeper = nullptr);
  ~EsShipper();  // stop()
  EsShipper(const EsShipper&) = delete;
  EsShipper& operator=(const EsShipper&) = delete;

  void start();
  // Stops after the request in flight (which a restart re-sends). Idempotent.
  void stop();
  // Why /readyz should say not ready ("" when fine): backlog over the limit, or paused by 401/403.
  std::string problem() const;
  // Sets the backlog and lag gauges from the outbox as it is now (called before every scrape, so
  // they move during an outage too, while the shipper waits), the dead-letter backlog, and counts
  // the dead letters the store trimmed before they were forwarded. Thread-safe.
  void update_gauges() const;

  // One pass of the loop without a thread (tests): reads one batch from the checkpoint and ships
  // it. Returns false when there was nothing to ship. REQUIRES: start() not called.
  bool ship_once();

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace verity::shippers
