#pragma once

#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "verity/core/clock.h"
#include "verity/core/units.h"

namespace prometheus {
class Registry;
}

namespace verity::store {
class AggregateReader;
}

namespace verity::query {

class ModelsApi;

// metrics.models.* (README.md, "Configuration reference").
struct ModelExportOptions {
  size_t max_models = 50;    // exported models, most recently predicting first
  size_t max_versions = 3;   // exported versions per model, most recently predicting first
  size_t max_features = 20;  // exported input features per model version, by name
  std::vector<std::string> windows = {"5m", "1h", "24h", "7d", "30d"};
  Duration refresh_interval{15'000};  // 0: only when refresh() is called
};

// Model-quality gauges for Prometheus, labelled {model, version, window}: recomputed from the
// aggregates every refresh_interval on a background thread (a scrape never computes a report).
// Series of models and versions beyond the caps are not exported;
// verity_model_series_capped_total counts the refreshes that left some out.
class ModelExporter {
 public:
  ModelExporter(const ModelsApi& api, const store::AggregateReader& store,
                ModelExportOptions options, const Clock& clock, prometheus::Registry& registry);
  ~ModelExporter();  // stop()
  ModelExporter(const ModelExporter&) = delete;
  ModelExporter& operator=(const ModelExporter&) = delete;

  void start();
  void stop();
  // One pass: every exported model version and window. Thread-safe.
  void refresh();

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace verity::query
