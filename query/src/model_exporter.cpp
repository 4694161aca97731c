#include "verity/query/model_exporter.h"

#include "verity/core/guard.h"
#include "verity/core/thread_name.h"

#include <algorithm>
#include <set>

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>
#include <spdlog/spdlog.h>

#include "verity/query/model_api.h"
#include "verity/store/readers.h"

namespace verity::query {
namespace {

// Report metric -> Prometheus gauge (base units; ratios in [0, 1]).
struct Exported {
  const char* metric;
  const char* name;
  const char* help;
};
constexpr Exported kExported[] = {
    {"accuracy", "verity_model_accuracy", "Share of labelled predictions that were right"},
    {"baseline_accuracy", "verity_model_baseline_accuracy",
     "Accuracy of always predicting the most frequent true class"},
    {"precision", "verity_model_precision", "Precision of the positive class (binary models)"},
    {"recall", "verity_model_recall", "Recall of the positive class (binary models)"},
    {"f1", "verity_model_f1", "F1 of the positive class (binary models)"},
    {"f1_macro", "verity_model_f1_macro", "Unweighted mean of the per-class F1 scores"},
    {"f1_weighted", "verity_model_f1_weighted", "Support-weighted mean of the per-class F1 scores"},
    {"roc_auc", "verity_model_roc_auc", "Area under the ROC curve (scored binary models)"},
    {"average_precision", "verity_model_average_precision",
     "Area under the precision-recall curve (scored binary models)"},
    {"log_loss", "verity_model_log_loss", "Mean log loss (scored binary models)"},
    {"brier_score_loss", "verity_model_brier_score", "Mean Brier score (scored binary models)"},
    {"expected_calibration_error", "verity_model_expected_calibration_error",
     "Expected calibration error over 10 uniform bins (scored binary models)"},
    {"mean_absolute_error", "verity_model_mean_absolute_error", "Mean absolute error"},
    {"root_mean_squared_error", "verity_model_root_mean_squared_error", "Root mean squared error"},
    {"mean_absolute_percentage_error", "verity_model_mean_absolute_percentage_error",
     "Mean absolute percentage error (a ratio: 0.1 is 10%)"},
    {"r2", "verity_model_r2", "Coefficient of determination"},
    {"label_coverage", "verity_model_label_coverage_ratio",
     "Share of predictions that have a label"},
    {"label_lag_seconds_mean", "verity_model_label_lag_mean_seconds",
     "Mean time from a prediction to its label"},
    {"confidence_mean", "verity_model_confidence_mean", "Mean confidence of the predictions"},
};

}  // namespace

struct ModelExporter::Impl {
  const ModelsApi& api;
  const store::AggregateReader& store;
  const ModelExportOptions options;
  const Clock& clock;
  std::vector<std::pair<std::string, Duration>> windows;

  std::mutex refresh_mu;                                                   // one refresh at a time
  std::map<std::string, prometheus::Family<prometheus::Gauge>*> families;  // by report metric
  prometheus::Family<prometheus::Gauge>* predictions = nullptr;
  prometheus::Family<prometheus::Gauge>* labelled = nullptr;
  prometheus::Family<prometheus::Gauge>* disagreement = nullptr;
  std::set<std::string> warned;  // report warnings logged once (guarded by refresh_mu)
  prometheus::Family<prometheus::Counter>* capped = nullptr;
  prometheus::Family<prometheus::Gauge>* feature_null = nullptr;
  prometheus::Family<prometheus::Gauge>* feature_mismatch = nullptr;
  prometheus::Family<prometheus::Gauge>* feature_range = nullptr;
  prometheus::Family<prometheus::Gauge>* feature_psi = nullptr;
  // Series set by the last refresh: removed when a refresh no longer sets them.
  std::set<std::pair<prometheus::Family<prometheus::Gauge>*, prometheus::Gauge*>> live;

  std::mutex mu;
  std::condition_variable cv;
  bool stopping = false;
  std::thread thread;

  Impl(const ModelsApi& a, const store::AggregateReader& s, ModelExportOptions o, const Clock& c)
      : api(a), store(s), options(std::move(o)), clock(c) {}
};

ModelExporter::ModelExporter(const ModelsApi& api, const store::AggregateReader& store,
                             ModelExportOptions options, const Clock& clock,
                             prometheus::Registry& registry)
    : impl_(std::make_unique<Impl>(api, store, std::move(options), clock)) {
  Impl& im = *impl_;
  for (const auto& w : im.options.windows) {
    if (auto d = parse_window(w)) im.windows.emplace_back(w, *d);
  }
  for (const auto& e : kExported) {
    im.families[e.metric] = &prometheus::BuildGauge().Name(e.name).Help(e.help).Register(registry);
  }
  im.predictions = &prometheus::BuildGauge()
                        .Name("verity_model_predictions")
                        .Help("Predictions made in the window")
                        .Register(registry);
  im.disagreement =
      &prometheus::BuildGauge()
           .Name("verity_model_score_label_disagreement_ratio")
           .Help(
               "Share of scored predictions whose score, as read (score_semantics), contradicts "
               "the predicted label (binary models); high means the score is read the wrong way")
           .Register(registry);
  im.labelled = &prometheus::BuildGauge()
                     .Name("verity_model_labelled_predictions")
                     .Help("Predictions made in the window that have a label")
                     .Register(registry);
  auto feature_gauge = [&](const char* name, const char* help) {
    return &prometheus::BuildGauge().Name(name).Help(help).Register(registry);
  };
  im.feature_null = feature_gauge("verity_model_feature_null_ratio",
                                  "Share of predictions whose input feature is missing or null");
  im.feature_mismatch = feature_gauge(
      "verity_model_feature_type_mismatch_ratio",
      "Share of present values of an input feature not of its configured (or usual) type");
  im.feature_range =
      feature_gauge("verity_model_feature_out_of_range_ratio",
                    "Share of numeric values of an input feature outside its configured bounds");
  im.feature_psi = feature_gauge(
      "verity_model_feature_psi",
      "Population stability index of an input feature against the model's drift baseline");
  im.capped = &prometheus::BuildCounter()
                   .Name("verity_model_series_capped_total")
                   .Help(
                       "Refreshes that left models or versions out of the model gauges "
                       "(metrics.models.max_models, max_versions, max_features)")
                   .Register(registry);
}

ModelExporter::~ModelExporter() { stop(); }

void ModelExporter::start() {
  Impl& im = *impl_;
  if (im.options.refresh_interval.count() <= 0 || im.thread.joinable()) return;
  im.thread = std::thread([this] {
    Impl& i = *impl_;
    std::unique_lock lock(i.mu);
    while (!i.stopping) {
      lock.unlock();
      if (auto s = guarded("model exporter", [this] { refresh(); }); !s) {
        spdlog::error("{}", s.message());
      }
      lock.lock();
      i.cv.wait_for(lock, i.options.refresh_interval, [&] { return i.stopping; });
    }
  });
  set_thread_name(im.thread, "verity-models");
}

void ModelExporter::stop() {
  Impl& im = *impl_;
  {
    std::lock_guard lock(im.mu);
    im.stopping = true;
  }
  im.cv.notify_all();
  if (im.thread.joinable()) im.thread.join();
}

void ModelExporter::refresh() {
  Impl& im = *impl_;
  std::lock_guard lock(im.refresh_mu);
  // Models and versions by their latest prediction, newest first.
  std::map<std::string, std::vector<store::ModelVersionInfo>> by_model;
  for (auto& v : im.store.model_versions()) by_model[v.model].push_back(std::move(v));
  std::vector<std::pair<EpochMillis, std::string>> models;
  for (auto& [name, versions] : by_model) {
    EpochMillis last = 0;
    for (const auto& v : versions) last = std::max(last, v.last_ms);
    models.emplace_back(last, name);
    std::sort(versions.begin(), versions.end(),
              [](const auto& a, const auto& b) { return a.last_ms > b.last_ms; });
  }
  std::sort(models.begin(), models.end(), std::greater<>());
  if (models.size() > im.options.max_models) {
    im.capped->Add({{"limit", "models"}}).Increment();
    models.resize(im.options.max_models);
  }
  bool versions_capped = false, features_capped = false;
  const EpochMillis end = report_end(im.clock.now_ms());
  decltype(im.live) live;
  for (const auto& [last, model] : models) {
    auto& versions = by_model[model];
    if (versions.size() > im.options.max_versions) {
      versions_capped = true;
      versions.resize(im.options.max_versions);
    }
    for (const auto& v : versions) {
      for (const auto& [window, length] : im.windows) {
        auto r = im.api.report(model, v.version, end - length.count(), end);
        if (!r) {
          spdlog::warn("model metrics: {} {}: {}", model, v.version, r.status().message());
          continue;
        }
        const std::map<std::string, std::string> labels = {
            {"model", model}, {"version", v.version}, {"window", window}};
        auto set = [&](prometheus::Family<prometheus::Gauge>* f, double value) {
          auto& g = f->Add(labels);
          g.Set(value);
          live.emplace(f, &g);
        };
        set(im.predictions, r->predictions);
        set(im.labelled, r->labelled);
        if (r->score_label_disagreement_ratio) {
          set(im.disagreement, *r->score_label_disagreement_ratio);
        }
        for (const auto& w : r->warnings) {
          // Once per model version and warning, not at every refresh.
          if (im.warned.size() < 10'000 &&
              im.warned.insert(model + '\x1f' + v.version + '\x1f' + w).second) {
            spdlog::warn("model {} version '{}': {}", model, v.version, w);
          }
        }
        for (const auto& [name, value] : r->metrics) {
          if (auto it = im.families.find(name); it != im.families.end()) set(it->second, value);
        }
        features_capped = features_capped || r->features.size() > im.options.max_features;
        for (size_t i = 0; i < r->features.size() && i < im.options.max_features; ++i) {
          const auto& f = r->features[i];
          auto with_feature = labels;
          with_feature["feature"] = f.name;
          auto set_feature = [&](prometheus::Family<prometheus::Gauge>* fam, double value) {
            auto& g = fam->Add(with_feature);
            g.Set(value);
            live.emplace(fam, &g);
          };
          set_feature(im.feature_null, f.null_ratio);
          set_feature(im.feature_mismatch, f.type_mismatch_ratio);
          if (f.out_of_range_ratio) set_feature(im.feature_range, *f.out_of_range_ratio);
          if (f.psi) set_feature(im.feature_psi, *f.psi);
        }
      }
    }
  }
  if (versions_capped) im.capped->Add({{"limit", "versions"}}).Increment();
  if (features_capped) im.capped->Add({{"limit", "features"}}).Increment();
  for (const auto& [family, gauge] : im.live) {
    if (!live.count({family, gauge})) family->Remove(gauge);
  }
  im.live = std::move(live);
}

}  // namespace verity::query
