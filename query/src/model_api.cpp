#include "verity/query/model_api.h"

#include <algorithm>
#include <charconv>
#include <map>

#include "verity/document/json_writer.h"
#include "verity/query/model_curves.h"
#include "verity/store/readers.h"

namespace verity::query {

EpochMillis report_end(EpochMillis last_ms) { return last_ms - (last_ms % 60'000) + 60'000; }

Result<Report> ModelsApi::report(const std::string& model,
                                 const std::optional<std::string>& version, EpochMillis from_ms,
                                 EpochMillis to_ms) const {
  bool known = false;
  EpochMillis first = 0;
  for (const auto& v : store_.model_versions()) {
    if (v.model != model || (version && v.version != *version)) continue;
    first = known ? std::min(first, v.first_ms) : v.first_ms;
    known = true;
  }
  if (!known) {
    return Status::not_found(version ? "no predictions of this model version are stored"
                                     : "no predictions of this model are stored");
  }
  auto a = window(model, version, from_ms, to_ms);
  if (!a) return a.status();
  // The drift baseline: configured, or the first days of the model (version).
  const quality::ModelQualityConfig& config = config_->for_model(model);
  const EpochMillis baseline_from = config.baseline_from.value_or(first - first % 60'000);
  const EpochMillis baseline_to = config.baseline_to.value_or(
      baseline_from + static_cast<EpochMillis>(config.baseline_days) * 86'400'000);
  auto base = cached(model, version, baseline_from, baseline_to);
  if (!base) return base.status();
  Report r = build_report(*a, config, base->get());
  r.baseline_from_ms = baseline_from;
  r.baseline_to_ms = baseline_to;
  r.model = model;
  r.version = version;
  r.from_ms = from_ms;
  r.to_ms = to_ms;
  return r;
}

Result<std::shared_ptr<const store::Aggregate>> ModelsApi::cached(
    const std::string& model, const std::optional<std::string>& version, EpochMillis from_ms,
    EpochMillis to_ms) const {
  constexpr size_t kMaxCacheBytes = 32u << 20;  // a day bucket's sum is ~0.1-1 MB of entries
  auto key = std::make_tuple(model, version, from_ms, to_ms);
  // The generation is taken before the read: a write landing in between changes it again, so
  // the entry is read anew next time rather than kept stale.
  const uint64_t generation = store_.aggregate_generation(model, version, from_ms, to_ms);
  {
    std::lock_guard lock(cache_mu_);
    auto it = cache_.find(key);
    if (it != cache_.end() && it->second.generation == generation && it->second.aggregate) {
      it->second.changes = 0;  // it stood still
      return it->second.aggregate;
    }
  }
  auto a = store_.aggregate(model, version, from_ms, to_ms);
  if (!a) return a.status();
  auto shared = std::make_shared<const store::Aggregate>(std::move(*a));
  std::lock_guard lock(cache_mu_);
  auto it = cache_.find(key);
  // Not kept while the window is being written: a read that finds the generation changed since
  // the previous read and the read before it (predictions or labels landing in today, in a
  // baseline that includes today) remembers the generation alone, and keeps the sums again once
  // two reads in a row find the same one. A copy kept while every read finds a new generation
  // only held memory until the next read replaced it (the cache held 24-26 MB in the label phase
  // after 5M predictions). A window read the first time, or changed once (a backfill), is kept at
  // once, as before.
  const uint32_t changes = it != cache_.end() && it->second.generation != generation
                               ? std::min<uint32_t>(it->second.changes + 1, 2)
                               : 0;
  const bool keep = changes < 2;
  const size_t bytes =
      (keep ? shared->memory_bytes() : 0) + sizeof(Cached) + model.size() + sizeof(key);
  if (it != cache_.end()) {
    cache_bytes_ -= it->second.bytes;
    cache_.erase(it);
  }
  if (cache_bytes_ + bytes > kMaxCacheBytes) {  // full: start over (entries are cheap to read back)
    cache_.clear();
    cache_bytes_ = 0;
  }
  if (bytes <= kMaxCacheBytes) {
    cache_.emplace(std::move(key), Cached{generation, keep ? shared : nullptr, bytes, changes});
    cache_bytes_ += bytes;
  }
  return shared;
}

Result<store::Aggregate> ModelsApi::window(const std::string& model,
                                           const std::optional<std::string>& version,
                                           EpochMillis from_ms, EpochMillis to_ms) const {
  constexpr EpochMillis kDay = 86'400'000;
  const EpochMillis first_day = from_ms - ((from_ms % kDay) + kDay) % kDay;
  const EpochMillis d1 = first_day == from_ms ? from_ms : first_day + kDay;
  const EpochMillis d2 = to_ms - ((to_ms % kDay) + kDay) % kDay;
  if (d2 - d1 < 2 * kDay) return store_.aggregate(model, version, from_ms, to_ms);
  auto days = cached(model, version, d1, d2);
  if (!days) return days.status();
  auto head = store_.aggregate(model, version, from_ms, d1);
  if (!head) return head.status();
  auto tail = store_.aggregate(model, version, d2, to_ms);
  if (!tail) return tail.status();
  store::AggregateSum
      sum;  // exact integer sums; entries that cancel are left out, as the store does
  sum.add(**days);
  sum.add(*head);
  sum.add(*tail);
  return sum.result();
}

HttpResponse ModelsApi::models(const HttpRequest&) const {
  struct Summary {
    EpochMillis first = 0, last = 0;
    std::vector<store::ModelVersionInfo> versions;
  };
  std::map<std::string, Summary> models;
  for (auto& v : store_.model_versions()) {
    auto [it, fresh] = models.try_emplace(v.model, Summary{v.first_ms, v.last_ms, {}});
    it->second.first = std::min(it->second.first, v.first_ms);
    it->second.last = std::max(it->second.last, v.last_ms);
    it->second.versions.push_back(std::move(v));
  }
  std::string out = "{\"models\":[";
  bool first = true;
  for (const auto& [name, s] : models) {
    auto r = report(name, std::nullopt, s.first, report_end(s.last));
    if (!r) return document::store_error_response(r.status());
    if (!first) out += ',';
    first = false;
    out += "{\"model\":";
    document::append_json_string(out, name);
    out += ",\"task\":\"" + r->task + "\",\"task_source\":\"" + r->task_source + "\"";
    if (r->score_semantics) {
      out += ",\"score_semantics\":{\"value\":\"";
      out += quality::score_semantics_name(*r->score_semantics);
      out += "\",\"source\":\"" + r->score_semantics_source + "\"";
      if (r->score_label_disagreement_ratio) {
        out += ",\"score_label_disagreement_ratio\":";
        document::append_json_number(out, *r->score_label_disagreement_ratio);
      }
      out += '}';
    }
    if (!r->warnings.empty()) {
      out += ",\"warnings\":[";
      for (size_t i = 0; i < r->warnings.size(); ++i) {
        if (i) out += ',';
        document::append_json_string(out, r->warnings[i]);
      }
      out += ']';
    }
    out += ",\"predictions\":" + std::to_string(static_cast<uint64_t>(r->predictions));
    out += ",\"labelled\":" + std::to_string(static_cast<uint64_t>(r->labelled));
    out += ",\"first_prediction\":\"" + format_rfc3339(s.first) + "\"";
    out += ",\"last_prediction\":\"" + format_rfc3339(s.last) + "\",\"versions\":[";
    for (size_t i = 0; i < s.versions.size(); ++i) {
      if (i) out += ',';
      out += "{\"version\":";
      document::append_json_string(out, s.versions[i].version);
      out += ",\"first_prediction\":\"" + format_rfc3339(s.versions[i].first_ms) + "\"";
      out += ",\"last_prediction\":\"" + format_rfc3339(s.versions[i].last_ms) + "\"}";
    }
    out += "]}";
  }
  const store::LabelCounts c = store_.label_counts();
  out += "],\"labels\":{\"joined\":" + std::to_string(c.joined) +
         ",\"corrections\":" + std::to_string(c.corrections) +
         ",\"pending\":" + std::to_string(c.pending) +
         ",\"orphaned\":" + std::to_string(c.orphaned) +
         ",\"late_joins\":" + std::to_string(c.late_joins) + "}}\n";
  return HttpResponse::json(200, std::move(out));
}

namespace {

// RFC 3339, or epoch milliseconds; years 1970..9999 (a time past them is no time, not the year
// 3170843).
std::optional<EpochMillis> parse_time(std::string_view text) {
  constexpr EpochMillis kMax = 253402300799999;  // 9999-12-31T23:59:59.999Z
  EpochMillis ms = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), ms);
  if (ec == std::errc() && end == text.data() + text.size()) {
    if (ms < 0 || ms > kMax) return std::nullopt;
    return ms;
  }
  auto t = parse_rfc3339(text);
  if (!t || *t < 0 || *t > kMax) return std::nullopt;
  return *t;
}

}  // namespace

std::optional<ModelsApi::Request> ModelsApi::parse_request(const HttpRequest& req,
                                                           std::string_view suffix,
                                                           HttpResponse& error) const {
  // /v1/models/{model}<suffix>
  static constexpr std::string_view kPrefix = "/v1/models/";
  std::string_view path = req.path;
  if (!path.starts_with(kPrefix) || !path.ends_with(suffix) ||
      path.size() <= kPrefix.size() + suffix.size()) {
    error = document::error_response(400, "invalid_model",
                                     "the path must be /v1/models/{model}" + std::string(suffix));
    return std::nullopt;
  }
  Request out;
  out.model =
      std::string(path.substr(kPrefix.size(), path.size() - kPrefix.size() - suffix.size()));
  for (const auto& [k, v] : req.query) {
    if (k == "version") out.version = v;
  }
  const std::optional<std::string>& version = out.version;
  const std::string_view window = req.query_param("window");
  const std::string_view from = req.query_param("from");
  const std::string_view to = req.query_param("to");
  auto bad = [&](std::string message) {
    error = document::error_response(400, "invalid_parameter", message);
    return std::nullopt;
  };
  if (!window.empty() && (!from.empty() || !to.empty())) {
    return bad("parameter window: give either window or from/to, not both");
  }
  EpochMillis& from_ms = out.from_ms;
  EpochMillis& to_ms = out.to_ms;
  if (!window.empty()) {
    auto w = parse_window(window);
    if (!w) return bad("parameter window: expected 5m, 1h, 24h, 7d, 30d or <n>m|h|d");
    to_ms = report_end(clock_.now_ms());
    from_ms = to_ms - w->count();
  } else {
    EpochMillis first = 0, last = 0;
    bool any = false;
    for (const auto& v : store_.model_versions()) {
      if (v.model != out.model || (version && v.version != *version)) continue;
      first = any ? std::min(first, v.first_ms) : v.first_ms;
      last = any ? std::max(last, v.last_ms) : v.last_ms;
      any = true;
    }
    from_ms = first - (first % 60'000);
    to_ms = report_end(last);
    if (!from.empty()) {
      auto t = parse_time(from);
      if (!t) return bad("parameter from: expected RFC 3339 or epoch milliseconds");
      from_ms = *t;
    }
    if (!to.empty()) {
      auto t = parse_time(to);
      if (!t) return bad("parameter to: expected RFC 3339 or epoch milliseconds");
      to_ms = *t;
    }
    if (to_ms <= from_ms) return bad("parameter to: must be after from");
  }
  return out;
}

HttpResponse ModelsApi::metrics(const HttpRequest& req) const {
  HttpResponse error;
  auto q = parse_request(req, "/metrics", error);
  if (!q) return error;
  auto r = report(q->model, q->version, q->from_ms, q->to_ms);
  if (!r) return document::store_error_response(r.status());
  return HttpResponse::json(200, r->to_json() + "\n");
}

Result<OverTime> ModelsApi::over_time(const Report& r) const {
  OverTime out;
  out.metric = r.task == "regression" ? "mean_absolute_error" : "accuracy";
  out.step_ms = series_step_ms(r.from_ms, r.to_ms);
  // The versions drawn: the one asked for, or those with predictions in the window, the most
  // recent first (at most kMaxSeriesVersions).
  std::vector<store::ModelVersionInfo> versions;
  for (auto& v : store_.model_versions()) {
    if (v.model != r.model || (r.version && v.version != *r.version)) continue;
    if (v.last_ms < r.from_ms || v.first_ms >= r.to_ms) continue;
    versions.push_back(std::move(v));
  }
  std::sort(versions.begin(), versions.end(), [](const auto& a, const auto& b) {
    return a.last_ms != b.last_ms ? a.last_ms > b.last_ms : a.version < b.version;
  });
  if (versions.size() > kMaxSeriesVersions) {
    out.versions_omitted = versions.size() - kMaxSeriesVersions;
    versions.resize(kMaxSeriesVersions);
  }
  std::sort(versions.begin(), versions.end(),
            [](const auto& a, const auto& b) { return a.version < b.version; });
  const quality::ModelQualityConfig& config = config_->for_model(r.model);
  // Bucket edges at UTC multiples of the step; a leading stub shorter than half a step (a window
  // ending now starts mid-hour) joins the next bucket instead of drawing a point of its own.
  const int64_t step = out.step_ms;
  std::vector<EpochMillis> edges = {r.from_ms};
  for (EpochMillis t = r.from_ms - ((r.from_ms % step) + step) % step + step; t < r.to_ms;
       t += step) {
    edges.push_back(t);
  }
  edges.push_back(r.to_ms);
  if (edges.size() > 2 && edges[1] - edges[0] < step / 2) edges.erase(edges.begin() + 1);
  for (const auto& v : versions) {
    VersionSeries series;
    series.version = v.version;
    for (size_t i = 0; i + 1 < edges.size(); ++i) {
      VersionSeries::Point p;
      p.from_ms = edges[i];
      p.to_ms = edges[i + 1];
      // Each bucket's report is built as the window's is: the same metric, computed the same way.
      auto a = store_.aggregate(r.model, v.version, p.from_ms, p.to_ms);
      if (!a) return a.status();
      const Report b = build_report(*a, config);
      p.labelled = b.labelled;
      p.value = b.labelled > 0 ? b.metric(out.metric) : std::nullopt;
      series.points.push_back(p);
    }
    out.versions.push_back(std::move(series));
  }
  return out;
}

HttpResponse ModelsApi::curves(const HttpRequest& req, std::string_view suffix) const {
  HttpResponse error;
  auto q = parse_request(req, suffix, error);
  if (!q) return error;
  auto r = report(q->model, q->version, q->from_ms, q->to_ms);
  if (!r) return document::store_error_response(r.status());
  auto series = over_time(*r);
  if (!series) return document::store_error_response(series.status());
  return HttpResponse::json(200, curves_json(*r, *series) + "\n");
}

}  // namespace verity::query
