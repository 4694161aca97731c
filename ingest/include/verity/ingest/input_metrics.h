#pragma once

#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "verity/store/ingest_batch.h"

namespace prometheus {
class Counter;
class Gauge;
class Registry;
template <typename T>
class Family;
}  // namespace prometheus

namespace verity::ingest {

// Per-input event accounting. Every event read is counted once as received and, once its batch is
// committed, once as stored, duplicate, dead-lettered or rejected, so that
//   received = stored + duplicate + dead_lettered + rejected
// holds per input whenever nothing is in flight. Thread-safe.
class InputMetrics {
 public:
  InputMetrics(prometheus::Registry& registry, std::string input);

  const std::string& input() const { return input_; }
  void received(uint64_t events) const;
  void bytes(uint64_t n) const;
  void connection_opened() const;
  void connection_closed() const;
  void connection_refused() const;
  // A request or connection refused as a whole (protocol error, oversized frame, zlib bomb, body
  // too large, ...): verity_ingest_protocol_errors_total{input, reason}.
  void protocol_error(std::string_view reason);

  // Reject types of a batch, counted before it is handed to the store.
  using RejectCounts = std::vector<std::pair<std::string, uint32_t>>;
  static RejectCounts count_rejects(const store::IngestBatch& batch);

  // Accounts for a committed (or failed) batch.
  void committed(const store::CommitResult& result, const RejectCounts& rejects);

 private:
  prometheus::Counter& rejected_counter(std::string_view reason);

  std::string input_;
  prometheus::Counter* received_;
  prometheus::Counter* stored_;
  prometheus::Counter* duplicate_;
  prometheus::Counter* dead_lettered_conflict_;
  prometheus::Counter* bytes_;
  prometheus::Gauge* connections_;
  prometheus::Counter* connections_refused_;
  prometheus::Family<prometheus::Counter>* rejected_family_;
  prometheus::Family<prometheus::Counter>* protocol_family_;
  std::mutex mu_;
  std::map<std::string, prometheus::Counter*, std::less<>> rejected_;  // guarded by mu_
  std::map<std::string, prometheus::Counter*, std::less<>> protocol_;  // guarded by mu_
};

}  // namespace verity::ingest
