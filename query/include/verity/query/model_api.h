#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>

#include "verity/core/clock.h"
#include "verity/core/http.h"
#include "verity/query/model_curves.h"
#include "verity/query/model_quality.h"

namespace verity::store {
class AggregateReader;
}

namespace verity::query {

// Model-quality reports from the store's aggregates: GET /v1/models and
// GET /v1/models/{model}/metrics. Thread-safe; the store must outlive this object.
class ModelsApi {
 public:
  ModelsApi(const store::AggregateReader& store,
            std::shared_ptr<const quality::QualityConfig> config, const Clock& clock)
      : store_(store), config_(std::move(config)), clock_(clock) {}

  // The report of `model` (one version, or all) over predictions made in [from_ms, to_ms).
  // kNotFound when the model has no predictions.
  Result<Report> report(const std::string& model, const std::optional<std::string>& version,
                        EpochMillis from_ms, EpochMillis to_ms) const;

  // {"models":[{"model","task","task_source","predictions","labelled","first_prediction",
  //  "last_prediction","versions":[{"version","first_prediction","last_prediction"}]}],
  //  "labels":{"joined","corrections","pending","orphaned","late_joins"}}
  HttpResponse models(const HttpRequest& req) const;
  // ?version=&window=5m|1h|24h|7d|30d|<n>m|h|d, or from=&to= (RFC 3339 or epoch ms); neither:
  // everything. Report::to_json().
  HttpResponse metrics(const HttpRequest& req) const;
  // GET /v1/models/{model}/curves, the same parameters and errors as metrics(): curves_json()
  // (query/model_curves.h) with the window's report and its accuracy over time per version.
  // `suffix` is the path's end after the model ("/curves"; the HTML report passes its own).
  HttpResponse curves(const HttpRequest& req, std::string_view suffix = "/curves") const;

 private:
  struct Request {
    std::string model;
    std::optional<std::string> version;
    EpochMillis from_ms = 0, to_ms = 0;
  };
  // The model, version and window of /v1/models/{model}<suffix>; nullopt with `error` set (400)
  // when malformed.
  std::optional<Request> parse_request(const HttpRequest& req, std::string_view suffix,
                                       HttpResponse& error) const;
  // The report's metric (accuracy, or mean_absolute_error for regression) per version over time
  // buckets of its window (series_step_ms), each bucket's report built as the window's is.
  Result<OverTime> over_time(const Report& r) const;

  // The aggregate of [from_ms, to_ms), kept while the store's generation for it stays the same:
  // for windows that do not move while days pass (a drift baseline, the whole days of a report's
  // window). Not kept while reads keep finding new generations (writes landing in its days).
  Result<std::shared_ptr<const store::Aggregate>> cached(const std::string& model,
                                                         const std::optional<std::string>& version,
                                                         EpochMillis from_ms,
                                                         EpochMillis to_ms) const;
  // The aggregate of a report's window: its whole days from cached(), the partial days around
  // them from the store (the same sums as store::AggregateReader::aggregate() of the whole window).
  Result<store::Aggregate> window(const std::string& model,
                                  const std::optional<std::string>& version, EpochMillis from_ms,
                                  EpochMillis to_ms) const;

  const store::AggregateReader& store_;
  std::shared_ptr<const quality::QualityConfig> config_;
  const Clock& clock_;
  struct Cached {
    uint64_t generation = 0;
    std::shared_ptr<const store::Aggregate> aggregate;  // null: not kept, being written
    size_t bytes = 0;                                   // counted in cache_bytes_
    uint32_t changes = 0;  // reads in a row that found a new generation
  };
  mutable std::mutex cache_mu_;
  mutable std::map<std::tuple<std::string, std::optional<std::string>, EpochMillis, EpochMillis>,
                   Cached>
      cache_;                       // guarded by cache_mu_
  mutable size_t cache_bytes_ = 0;  // guarded by cache_mu_: at most kMaxCacheBytes
};

// Where a report's window ends: the end of `last_ms`'s minute, so the newest predictions count.
EpochMillis report_end(EpochMillis last_ms);

}  // namespace verity::query
