#include "verity/shippers/es_shipper.h"

#include <simdjson.h>
#include <zlib.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <future>
#include <mutex>
#include <optional>
#include <random>
#include <thread>

#include <curl/curl.h>
#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>
#include <spdlog/spdlog.h>

#include "verity/core/http.h"
#include "verity/document/field_mapping.h"
#include "verity/document/json_value.h"
#include "verity/document/json_writer.h"
#include "verity/shippers/bulk_response.h"
#include "verity/store/store.h"

namespace verity::shippers {
namespace {

std::string gzip(std::string_view in) {
  z_stream z{};
  deflateInit2(&z, Z_BEST_SPEED, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY);
  std::string out(deflateBound(&z, in.size()), '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  z.avail_in = static_cast<uInt>(in.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  deflate(&z, Z_FINISH);
  out.resize(z.total_out);
  deflateEnd(&z);
  return out;
}

// Answers are untrusted: one larger than this aborts the transfer (and the request is retried).
constexpr size_t kMaxResponseBytes = 64ull << 20;

size_t append_body(char* data, size_t size, size_t n, void* user) {
  auto* out = static_cast<std::string*>(user);
  if (out->size() + size * n > kMaxResponseBytes) return 0;
  out->append(data, size * n);
  return size * n;
}

// "2026.11.20" for a dated index.
std::string index_date(EpochMillis ts) {
  const std::string d = format_rfc3339(ts);  // 2026-11-20T...
  return d.substr(0, 4) + "." + d.substr(5, 2) + "." + d.substr(8, 2);
}

// One outbox record as a bulk action line and source line.
struct Item {
  uint64_t sequence = 0;
  std::string request_id;
  std::string lines;     // action + '\n' + source + '\n'
  std::string document;  // for the dead-letter store
};

using ItemResult = BulkItemOutcome;

// What one _bulk request came to.
enum class RequestOutcome { kAnswered, kRetryable, kTooLarge, kUnauthorized, kFailed };

}  // namespace

struct EsShipper::Impl {
  Impl(store::Store& s, EsShipperOptions o, const Clock& c,
       std::shared_ptr<const document::FieldMappingSet> f)
      : store(s), options(std::move(o)), clock(c), fields(std::move(f)) {}

  store::Store& store;
  const EsShipperOptions options;
  const Clock& clock;
  std::shared_ptr<const document::FieldMappingSet> fields;
  std::thread thread;
  std::mutex mu;
  std::condition_variable cv;
  bool stopping = false;  // guarded by mu
  std::atomic<bool> paused{false};
  bool unrefreshed = false;  // documents were indexed since the last _refresh
  size_t host = 0;           // the host in use
  std::unique_ptr<CURL, decltype(&curl_easy_cleanup)> curl{curl_easy_init(), curl_easy_cleanup};
  std::mt19937_64 rng{std::random_device{}()};

  prometheus::Family<prometheus::Counter>* requests = nullptr;
  prometheus::Family<prometheus::Counter>* items = nullptr;
  prometheus::Counter* dead_lettered = nullptr;
  prometheus::Counter* erasures_propagated = nullptr;
  prometheus::Counter* labels_shipped = nullptr;
  prometheus::Gauge* backlog_events = nullptr;
  prometheus::Gauge* backlog_bytes = nullptr;
  prometheus::Gauge* lag_seconds = nullptr;
  prometheus::Gauge* paused_gauge = nullptr;

  bool should_stop() {
    std::lock_guard lock(mu);
    return stopping;
  }
  // Waits `d` or until stop(); true when stopping.
  bool sleep_for(Duration d) {
    std::unique_lock lock(mu);
    return cv.wait_for(lock, d, [&] { return stopping; });
  }
  Duration jittered(Duration d) {
    std::uniform_int_distribution<int64_t> j(d.count() / 2, std::max<int64_t>(d.count(), 1));
    return Duration(j(rng));
  }

  void run();
  bool ship(std::vector<Item>& batch);
  RequestOutcome send(const std::vector<Item*>& chunk, std::vector<ItemResult>& results,
                      std::string& why);
  std::optional<long> post(const std::string& path, const std::string& body,
                           const char* content_type, std::string& response, std::string& why);
  bool propagate_erasures(const std::vector<std::string>& ids);
  bool update_labels(const std::vector<std::pair<std::string, std::string>>& labels);
  // POSTs a by-query request until Elasticsearch confirms it (or has no such index).
  bool by_query(const std::string& endpoint, const std::string& body, size_t n, const char* what);
  void set_paused(bool on, const std::string& why);
  Item make_item(const store::OutboxEntry& e) const;
  void update_backlog(EpochMillis oldest_ingest);
};

namespace {

const document::FieldMapping& mapping_for(const document::FieldMappingSet* fields,
                                          std::string_view model) {
  static const document::FieldMapping defaults = document::FieldMapping::defaults();
  return fields == nullptr ? defaults : fields->for_model(model);
}

}  // namespace

std::string label_fields(const store::StoredRecord& prediction, const store::StoredRecord& label,
                         const document::FieldMappingSet* fields) {
  const document::FieldMapping& m = mapping_for(fields, prediction.model_name);
  simdjson::dom::parser lp, pp;
  simdjson::dom::element ldoc, pdoc;
  document::FoundValue truth, predicted;
  if (!lp.parse(label.document).get(ldoc)) {
    truth = document::first_value(ldoc, m.pointers(document::Field::kGroundTruth), false);
  }
  if (!pp.parse(prediction.document).get(pdoc)) predicted = document::predicted_value(pdoc, m);
  std::string out = "{\"ground_truth\":" + (truth.found() ? truth.json : std::string("null"));
  out += ",\"label_time\":\"" + format_rfc3339(label.timestamp_ms) + "\"";
  if (truth.found() && predicted.found()) {
    if (truth.is_number() && predicted.is_number()) {
      const double err = std::stod(predicted.json) - std::stod(truth.json);
      char buf[64];
      std::snprintf(buf, sizeof buf, "%.17g", err);
      out += std::string(",\"error\":") + buf;
    } else if (!truth.is_number() && !predicted.is_number()) {
      out += std::string(",\"correct\":") + (truth.json == predicted.json ? "true" : "false");
    }
  }
  return out + '}';
}

std::string es_source(const store::StoredRecord& r, const store::StoredRecord* label,
                      const document::FieldMappingSet* fields) {
  std::string l;
  l.reserve(r.document.size() + 400);
  l += "{\"@timestamp\":\"" + format_rfc3339(r.timestamp_ms) + "\",\"verity\":{\"request_id\":";
  document::append_json_string(l, r.request_id);
  l += ",\"model\":";
  document::append_json_string(l, r.model_name);
  l += ",\"version\":";
  document::append_json_string(l, r.model_version);
  l += ",\"input\":";
  document::append_json_string(l, r.input);
  l += ",\"partition\":";
  document::append_json_string(l, r.partition);
  l += ",\"sequence\":" + std::to_string(r.sequence);
  l += ",\"ingest_time\":\"" + format_rfc3339(r.ingest_time_ms) + "\"";
  l += ",\"masking_version\":";
  document::append_json_string(l, r.masking_version);
  l += ",\"digest\":\"sha256:" + to_hex(r.digest) + "\"},\"document\":";
  l += r.document;
  if (label != nullptr) {
    l += ",\"label\":";
    l += label_fields(r, *label, fields);
  }
  l += '}';
  return l;
}

Item EsShipper::Impl::make_item(const store::OutboxEntry& e) const {
  const store::StoredRecord& r = e.record;
  Item it;
  it.sequence = e.sequence;
  it.request_id = r.request_id;
  it.document = r.document;
  const std::string index = options.index_mode == IndexMode::kDataStream
                                ? options.data_stream
                                : options.dated_prefix + index_date(r.timestamp_ms);
  std::string& l = it.lines;
  l.reserve(r.document.size() + 512);
  l += "{\"create\":{\"_index\":";
  document::append_json_string(l, index);
  l += ",\"_id\":";
  document::append_json_string(l, r.request_id);
  l += "}}\n";
  l += es_source(r, e.label ? &*e.label : nullptr, fields.get());
  l += "\n";
  return it;
}

// POSTs `body` to `path` on the current host. nullopt on a connection error (and the next host
// is used next time); otherwise the HTTP status, with the answer in `response`.
std::optional<long> EsShipper::Impl::post(const std::string& path, const std::string& body,
                                          const char* content_type, std::string& response,
                                          std::string& why) {
  const bool compress = options.gzip && body.size() > 1024;
  const std::string payload = compress ? gzip(body) : body;
  CURL* c = curl.get();
  curl_easy_reset(c);
  const std::string url = options.hosts[host % options.hosts.size()] + path;
  curl_slist* headers = nullptr;
  const std::string type = std::string("Content-Type: ") + content_type;
  headers = curl_slist_append(headers, type.c_str());
  headers = curl_slist_append(headers, "Expect:");
  if (compress) headers = curl_slist_append(headers, "Content-Encoding: gzip");
  std::string api_key;
  if (!options.api_key.empty()) {
    api_key = "Authorization: ApiKey " + options.api_key;
    headers = curl_slist_append(headers, api_key.c_str());
  }
  std::unique_ptr<curl_slist, decltype(&curl_slist_free_all)> owner(headers, curl_slist_free_all);
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c, CURLOPT_POST, 1L);
  curl_easy_setopt(c, CURLOPT_POSTFIELDS, payload.data());
  curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(payload.size()));
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, append_body);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &response);
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, static_cast<long>(options.timeout.count()));
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_TCP_KEEPALIVE, 1L);
  if (!options.username.empty()) {
    curl_easy_setopt(c, CURLOPT_USERNAME, options.username.c_str());
    curl_easy_setopt(c, CURLOPT_PASSWORD, options.password.c_str());
  }
  if (!options.ca_file.empty()) curl_easy_setopt(c, CURLOPT_CAINFO, options.ca_file.c_str());
  curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, options.verify_certificate ? 1L : 0L);
  curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, options.verify_hostname ? 2L : 0L);
  const CURLcode rc = curl_easy_perform(c);
  if (rc != CURLE_OK) {
    why = url + ": " + curl_easy_strerror(rc);
    ++host;  // fail over to the next host
    return std::nullopt;
  }
  long status = 0;
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
  why = url + ": HTTP " + std::to_string(status);
  return status;
}

RequestOutcome EsShipper::Impl::send(const std::vector<Item*>& chunk,
                                     std::vector<ItemResult>& results, std::string& why) {
  std::string body;
  for (const Item* it : chunk) body += it->lines;
  std::string response;
  const auto answered = post("/_bulk", body, "application/x-ndjson", response, why);
  if (!answered) return RequestOutcome::kRetryable;
  const long status = *answered;
  if (status == 413) return RequestOutcome::kTooLarge;
  if (status == 401 || status == 403) return RequestOutcome::kUnauthorized;
  if (status == 429 || status == 500 || status == 502 || status == 503 || status == 504) {
    return RequestOutcome::kRetryable;
  }
  if (status != 200) {
    why += ": " + response.substr(0, 300);
    return RequestOutcome::kFailed;
  }
  if (!parse_bulk_response(response, chunk.size(), results)) {
    why += ": the answer does not list one item per action";
    return RequestOutcome::kRetryable;
  }
  for (const auto& r : results) items->Add({{"status", std::to_string(r.status)}}).Increment();
  return RequestOutcome::kAnswered;
}

// Ships every item of `batch`: returns true once each is delivered or dead-lettered, false when
// stopping first.
bool EsShipper::Impl::ship(std::vector<Item>& batch) {
  std::deque<std::vector<Item*>> work;  // chunks still to send
  {
    std::vector<Item*> all;
    for (auto& it : batch) all.push_back(&it);
    work.push_back(std::move(all));
  }
  std::vector<Item*> retry;
  store::IngestBatch dead;
  dead.input = "es_shipper";
  Duration backoff = options.initial_backoff;
  while (!work.empty() || !retry.empty()) {
    if (work.empty()) {
      if (sleep_for(jittered(backoff))) return false;
      backoff = std::min(options.max_backoff, Duration(backoff.count() * 2));
      work.push_back(std::move(retry));
      retry.clear();
    }
    std::vector<Item*> chunk = std::move(work.front());
    work.pop_front();
    std::vector<ItemResult> results;
    std::string why;
    const RequestOutcome outcome = send(chunk, results, why);
    switch (outcome) {
      case RequestOutcome::kAnswered: {
        unrefreshed = true;
        requests->Add({{"outcome", "ok"}}).Increment();
        set_paused(false, "");
        for (size_t i = 0; i < chunk.size(); ++i) {
          const ItemResult& r = results[i];
          if (r.kind == BulkItemOutcome::Kind::kRetry) {
            retry.push_back(chunk[i]);
          } else if (r.kind == BulkItemOutcome::Kind::kDead) {
            Reject rj;
            rj.type = "elasticsearch_" + (r.type.empty() ? std::to_string(r.status) : r.type);
            rj.reason = "sequence " + std::to_string(chunk[i]->sequence) + ": Elasticsearch " +
                        "answered " + std::to_string(r.status) + " " + r.type + ": " + r.reason;
            rj.line = chunk[i]->sequence;
            rj.document = chunk[i]->document;
            rj.raw_length = chunk[i]->document.size();
            dead.rejects.push_back(std::move(rj));
          }
        }
        break;
      }
      case RequestOutcome::kTooLarge:
        requests->Add({{"outcome", "too_large"}}).Increment();
        if (chunk.size() == 1) {  // one document larger than the cluster takes
          Reject rj;
          rj.type = "elasticsearch_413";
          rj.reason = "sequence " + std::to_string(chunk[0]->sequence) +
                      ": the document alone is larger than Elasticsearch accepts (413)";
          rj.line = chunk[0]->sequence;
          rj.document = chunk[0]->document;
          rj.raw_length = chunk[0]->document.size();
          dead.rejects.push_back(std::move(rj));
        } else {
          const size_t half = chunk.size() / 2;
          work.emplace_front(chunk.begin() + static_cast<std::ptrdiff_t>(half), chunk.end());
          work.emplace_front(chunk.begin(), chunk.begin() + static_cast<std::ptrdiff_t>(half));
        }
        break;
      case RequestOutcome::kUnauthorized:
        requests->Add({{"outcome", "unauthorized"}}).Increment();
        set_paused(true, why);
        retry.insert(retry.end(), chunk.begin(), chunk.end());
        break;
      case RequestOutcome::kRetryable:
      case RequestOutcome::kFailed:
        requests->Add({{"outcome", outcome == RequestOutcome::kFailed ? "failed" : "retryable"}})
            .Increment();
        spdlog::warn("es shipper: {}; retrying {} items", why, chunk.size());
        retry.insert(retry.end(), chunk.begin(), chunk.end());
        break;
    }
    if (should_stop()) return false;
  }
  if (!dead.rejects.empty()) {
    // The dead-letter entries are committed before the checkpoint moves past them.
    const size_t n = dead.rejects.size();
    std::promise<Status> committed;
    store.submit(std::move(dead),
                 [&](const store::CommitResult& r) { committed.set_value(r.status); });
    if (auto s = committed.get_future().get(); !s) {
      spdlog::error("es shipper: cannot write {} dead-letter entries: {}", n, s.message());
      return false;
    }
    dead_lettered->Increment(static_cast<double>(n));
  }
  return true;
}

void EsShipper::Impl::set_paused(bool on, const std::string& why) {
  if (on && !paused.exchange(true)) {
    paused_gauge->Set(1);
    spdlog::error(
        "es shipper: {}: shipping paused until Elasticsearch accepts our credentials "
        "(nothing is dropped)",
        why);
  } else if (!on && paused.exchange(false)) {
    paused_gauge->Set(0);
    spdlog::info("es shipper: Elasticsearch accepts our credentials again");
  }
}

bool EsShipper::Impl::by_query(const std::string& endpoint, const std::string& body, size_t n,
                               const char* what) {
  const std::string target = options.index_mode == IndexMode::kDataStream
                                 ? options.data_stream
                                 : options.dated_prefix + "*";
  Duration backoff = options.initial_backoff;
  while (true) {
    std::string response, why;
    // By-query requests search, and search is near real time: documents indexed since the last
    // refresh are invisible to them. Refresh first when anything was indexed since.
    std::optional<long> status;
    if (unrefreshed) {
      status = post("/" + target + "/_refresh", "", "application/json", response, why);
      if (status && (*status == 200 || *status == 404)) {
        unrefreshed = false;
        response.clear();
      }
    }
    if (!unrefreshed) {
      status = post("/" + target + "/" + endpoint + "?conflicts=proceed", body, "application/json",
                    response, why);
    }
    if (status && (*status == 404 ||
                   (*status == 200 && response.find("\"failures\":[]") != std::string::npos))) {
      requests->Add({{"outcome", "ok"}}).Increment();
      set_paused(false, "");
      return true;
    }
    if (status && (*status == 401 || *status == 403)) {
      requests->Add({{"outcome", "unauthorized"}}).Increment();
      set_paused(true, why);
    } else {
      requests->Add({{"outcome", "retryable"}}).Increment();
      spdlog::warn("es shipper: {} for {} documents: {}: {}; retrying", what, n, why,
                   response.substr(0, 300));
    }
    if (sleep_for(jittered(backoff))) return false;
    backoff = std::min(options.max_backoff, Duration(backoff.count() * 2));
  }
}

namespace {

std::string ids_query(const std::vector<std::string>& ids) {
  std::string q = R"({"ids":{"values":[)";
  for (size_t i = 0; i < ids.size(); ++i) {
    if (i) q += ',';
    document::append_json_string(q, ids[i]);
  }
  return q + "]}}";
}

}  // namespace

// Deletes the copies of erased predictions: _delete_by_query on their ids, over the data stream or
// every dated index (a data stream takes no delete by _id through _bulk).
bool EsShipper::Impl::propagate_erasures(const std::vector<std::string>& ids) {
  if (!by_query("_delete_by_query", "{\"query\":" + ids_query(ids) + "}", ids.size(),
                "deleting erased documents")) {
    return false;
  }
  erasures_propagated->Increment(static_cast<double>(ids.size()));
  return true;
}

// Sets the label fields of indexed predictions: _update_by_query on their ids with a script that
// takes each document's fields from a map (data streams take no update by _id through _bulk).
// A prediction not indexed yet is simply not matched: its own create carries its label.
bool EsShipper::Impl::update_labels(const std::vector<std::pair<std::string, std::string>>& l) {
  std::vector<std::string> ids;
  std::string params;
  for (const auto& [id, fields] : l) {
    ids.push_back(id);
    if (!params.empty()) params += ',';
    document::append_json_string(params, id);
    params += ':' + fields;
  }
  const std::string body =
      "{\"query\":" + ids_query(ids) +
      R"(,"script":{"lang":"painless","source":"ctx._source.label = params.labels[ctx._id]",)"
      R"("params":{"labels":{)" +
      params + "}}}}";
  if (!by_query("_update_by_query", body, l.size(), "updating labels")) return false;
  labels_shipped->Increment(static_cast<double>(l.size()));
  return true;
}

void EsShipper::Impl::update_backlog(EpochMillis oldest_ingest) {
  const auto b = store.outbox_backlog();
  backlog_events->Set(static_cast<double>(b.events));
  backlog_bytes->Set(static_cast<double>(b.bytes));
  lag_seconds->Set(oldest_ingest > 0
                       ? std::max(0.0, static_cast<double>(clock.now_ms() - oldest_ingest) / 1000)
                       : 0.0);
}

void EsShipper::Impl::run() {
  uint64_t next = store.outbox_checkpoint();
  while (!should_stop()) {
    auto entries = store.read_outbox(next, options.batch_events, options.batch_bytes.bytes);
    if (!entries) {
      spdlog::warn("es shipper: reading the outbox: {}", entries.status().message());
      if (sleep_for(options.initial_backoff)) return;
      continue;
    }
    if (entries->entries.size() < options.batch_events) {
      update_backlog(entries->entries.empty() ? 0 : entries->entries.front().record.ingest_time_ms);
      // A partial batch waits for more, at most flush_interval since its oldest event arrived.
      const EpochMillis oldest = entries->entries.empty()
                                     ? clock.now_ms()
                                     : entries->entries.front().record.ingest_time_ms;
      const EpochMillis due = oldest + options.flush_interval.count();
      if (entries->entries.empty() || clock.now_ms() < due) {
        const int64_t wait = entries->entries.empty() ? options.flush_interval.count() / 4
                                                      : std::min<int64_t>(due - clock.now_ms(), 50);
        if (sleep_for(Duration(std::max<int64_t>(wait, 5)))) return;
        if (entries->entries.empty() || clock.now_ms() < due) continue;
      }
    }
    std::vector<Item> batch;
    std::vector<std::string> erased;
    std::vector<std::pair<std::string, std::string>> labelled;
    batch.reserve(entries->entries.size());
    for (const auto& e : entries->entries) {
      switch (e.kind) {
        case store::OutboxEntry::Kind::kPrediction:
          batch.push_back(make_item(e));
          break;
        case store::OutboxEntry::Kind::kLabel:
          labelled.emplace_back(e.record.request_id,
                                label_fields(e.record, *e.label, fields.get()));
          break;
        case store::OutboxEntry::Kind::kErasure:
          erased.push_back(e.record.request_id);
          break;
      }
    }
    update_backlog(entries->entries.empty() ? 0 : entries->entries.front().record.ingest_time_ms);
    if (!batch.empty() && !ship(batch)) return;
    // After the batch: a label or an erasure always follows its prediction in the outbox.
    if (!labelled.empty() && !update_labels(labelled)) return;
    if (!erased.empty() && !propagate_erasures(erased)) return;
    if (auto s = store.ack_outbox(entries->next); !s) {
      spdlog::error("es shipper: cannot move the checkpoint: {}", s.message());
      if (sleep_for(options.initial_backoff)) return;
      continue;
    }
    next = entries->next;
  }
}

EsShipper::EsShipper(store::Store& store, EsShipperOptions options, const Clock& clock,
                     prometheus::Registry& registry,
                     std::shared_ptr<const document::FieldMappingSet> fields)
    : impl_(std::make_unique<Impl>(store, std::move(options), clock, std::move(fields))) {
  Impl& im = *impl_;
  im.requests = &prometheus::BuildCounter()
                     .Name("verity_shipper_bulk_requests_total")
                     .Help("_bulk requests to Elasticsearch by outcome")
                     .Register(registry);
  im.items = &prometheus::BuildCounter()
                  .Name("verity_shipper_items_total")
                  .Help("Bulk items answered by Elasticsearch, by status")
                  .Register(registry);
  im.dead_lettered = &prometheus::BuildCounter()
                          .Name("verity_shipper_dead_lettered_total")
                          .Help(
                              "Items Elasticsearch refused for good (400/404, or 413 alone), "
                              "written to the dead-letter store")
                          .Register(registry)
                          .Add({});
  im.labels_shipped = &prometheus::BuildCounter()
                           .Name("verity_shipper_labels_total")
                           .Help(
                               "New or corrected labels written to their indexed predictions "
                               "(_update_by_query)")
                           .Register(registry)
                           .Add({});
  im.erasures_propagated = &prometheus::BuildCounter()
                                .Name("verity_shipper_erasures_total")
                                .Help(
                                    "Erased predictions whose copies in Elasticsearch were "
                                    "deleted (_delete_by_query)")
                                .Register(registry)
                                .Add({});
  auto& backlog = prometheus::BuildGauge()
                      .Name("verity_shipper_backlog")
                      .Help("Stored predictions not yet delivered to Elasticsearch")
                      .Register(registry);
  im.backlog_events = &backlog.Add({{"unit", "events"}});
  im.backlog_bytes = &backlog.Add({{"unit", "bytes"}});
  im.lag_seconds = &prometheus::BuildGauge()
                        .Name("verity_shipper_lag_seconds")
                        .Help("Age of the oldest stored prediction not yet delivered")
                        .Register(registry)
                        .Add({});
  im.paused_gauge = &prometheus::BuildGauge()
                         .Name("verity_shipper_paused")
                         .Help("1 while Elasticsearch refuses our credentials (401/403)")
                         .Register(registry)
                         .Add({});
}

EsShipper::~EsShipper() { stop(); }

void EsShipper::start() {
  Impl* im = impl_.get();
  im->thread = std::thread([im] { im->run(); });
}

void EsShipper::stop() {
  {
    std::lock_guard lock(impl_->mu);
    impl_->stopping = true;
  }
  impl_->cv.notify_all();
  if (impl_->thread.joinable()) impl_->thread.join();
}

std::string EsShipper::problem() const {
  if (impl_->paused.load()) return "elasticsearch shipper paused: credentials refused (401/403)";
  const auto b = impl_->store.outbox_backlog();
  if (b.events > impl_->options.max_backlog_events) {
    return "elasticsearch backlog of " + std::to_string(b.events) + " events is over " +
           std::to_string(impl_->options.max_backlog_events);
  }
  return "";
}

}  // namespace verity::shippers
