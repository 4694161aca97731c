#include "verity/ingest/input_metrics.h"

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>

namespace verity::ingest {

InputMetrics::InputMetrics(prometheus::Registry& registry, std::string input)
    : input_(std::move(input)) {
  const prometheus::Labels labels{{"input", input_}};
  received_ = &prometheus::BuildCounter()
                   .Name("verity_ingest_events_received_total")
                   .Help("Events read from an input (complete lines, bulk items, Beats events)")
                   .Register(registry)
                   .Add(labels);
  stored_ = &prometheus::BuildCounter()
                 .Name("verity_ingest_events_stored_total")
                 .Help("Events newly and durably stored")
                 .Register(registry)
                 .Add(labels);
  duplicate_ = &prometheus::BuildCounter()
                    .Name("verity_ingest_events_duplicate_total")
                    .Help("Events identical to one already stored under their request id (no-ops)")
                    .Register(registry)
                    .Add(labels);
  dead_lettered_conflict_ =
      &prometheus::BuildCounter()
           .Name("verity_ingest_events_dead_lettered_total")
           .Help("Valid events routed to the dead-letter store instead of being stored")
           .Register(registry)
           .Add({{"input", input_}, {"reason", "duplicate_conflict"}});
  rejected_family_ = &prometheus::BuildCounter()
                          .Name("verity_ingest_events_rejected_total")
                          .Help("Events rejected as invalid (recorded in the dead-letter store)")
                          .Register(registry);
  protocol_family_ = &prometheus::BuildCounter()
                          .Name("verity_ingest_protocol_errors_total")
                          .Help("Connections or requests refused as a whole, by reason")
                          .Register(registry);
  bytes_ = &prometheus::BuildCounter()
                .Name("verity_ingest_bytes_total")
                .Help("Bytes read from an input")
                .Register(registry)
                .Add(labels);
  connections_ = &prometheus::BuildGauge()
                      .Name("verity_ingest_connections")
                      .Help("Open connections")
                      .Register(registry)
                      .Add(labels);
  connections_refused_ = &prometheus::BuildCounter()
                              .Name("verity_ingest_connections_refused_total")
                              .Help("Connections closed at once because the limit was reached")
                              .Register(registry)
                              .Add(labels);
}

void InputMetrics::received(uint64_t events) const {
  received_->Increment(static_cast<double>(events));
}
void InputMetrics::bytes(uint64_t n) const { bytes_->Increment(static_cast<double>(n)); }
void InputMetrics::connection_opened() const { connections_->Increment(); }
void InputMetrics::connection_closed() const { connections_->Decrement(); }
void InputMetrics::connection_refused() const { connections_refused_->Increment(); }

void InputMetrics::protocol_error(std::string_view reason) {
  std::lock_guard lock(mu_);
  auto it = protocol_.find(reason);
  if (it == protocol_.end()) {
    auto& c = protocol_family_->Add({{"input", input_}, {"reason", std::string(reason)}});
    it = protocol_.emplace(std::string(reason), &c).first;
  }
  it->second->Increment();
}

prometheus::Counter& InputMetrics::rejected_counter(std::string_view reason) {
  std::lock_guard lock(mu_);
  auto it = rejected_.find(reason);
  if (it != rejected_.end()) return *it->second;
  auto& c = rejected_family_->Add({{"input", input_}, {"reason", std::string(reason)}});
  rejected_.emplace(std::string(reason), &c);
  return c;
}

InputMetrics::RejectCounts InputMetrics::count_rejects(const store::IngestBatch& batch) {
  RejectCounts counts;
  for (const auto& r : batch.rejects) {
    bool found = false;
    for (auto& [type, n] : counts) {
      if (type == r.type) {
        ++n;
        found = true;
        break;
      }
    }
    if (!found) counts.emplace_back(r.type, 1);
  }
  for (const auto& [otype, k] : batch.omitted_rejects) {
    bool found = false;
    for (auto& [type, n] : counts) {
      if (type == otype) {
        n += static_cast<uint32_t>(k);
        found = true;
        break;
      }
    }
    if (!found) counts.emplace_back(otype, static_cast<uint32_t>(k));
  }
  return counts;
}

void InputMetrics::committed(const store::CommitResult& result, const RejectCounts& rejects) {
  if (!result.status) {
    rejected_counter("store_unavailable").Increment(result.failed);
    return;
  }
  stored_->Increment(result.stored);
  duplicate_->Increment(result.duplicates);
  dead_lettered_conflict_->Increment(result.dead_lettered);
  for (const auto& [type, n] : rejects) rejected_counter(type).Increment(n);
}

}  // namespace verity::ingest
