#include "verity/shippers/es_shipper.h"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <future>
#include <mutex>
#include <random>
#include <thread>
#include <unordered_map>
#include <unordered_set>

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>
#include <spdlog/spdlog.h>

#include "verity/core/guard.h"
#include "verity/core/thread_name.h"
#include "verity/shippers/dead_letter_encoder.h"
#include "verity/shippers/es_encoder.h"
#include "verity/shippers/es_service.h"
#include "verity/shippers/request_builder.h"
#include "verity/shippers/retry_policy.h"
#include "verity/store/outbox_source.h"

namespace verity::shippers {
namespace {

class RealSleeper final : public Sleeper {
 public:
  bool sleep_for(Duration d) override {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, d, [&] { return stopping_; });
  }
  void stop() override {
    {
      std::lock_guard lock(mu_);
      stopping_ = true;
    }
    cv_.notify_all();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
};

// One thing to deliver: a prediction's bulk lines, a label's fields, an erased request id, or a
// dead letter's bulk lines (forwarded: never itself dead-lettered).
struct Item {
  uint64_t sequence = 0;
  std::string request_id;
  std::string payload;                    // bulk action + source lines, or label_fields JSON
  const std::string* document = nullptr;  // for a dead-letter entry (the masked document)
  bool forwarded_dead_letter = false;     // an entry of the dead-letter store, forwarded
  size_t bytes() const { return payload.size() + request_id.size() + 16; }
};

// Runs work(0) on this thread and work(1) .. work(n - 1) on threads of their own (named
// name_prefix + i), and returns once every one is done. `work` must not throw. A thread that cannot
// be started (std::system_error) has its share run here, at once.
template <typename F>
void on_threads(size_t n, const std::string& name_prefix, F&& work) noexcept {
  std::vector<std::thread> threads;
  struct Joiner {  // also when leaving by an exception: a joinable std::thread terminates
    std::vector<std::thread>& threads;
    ~Joiner() {
      for (auto& t : threads) t.join();
    }
  } joiner{threads};
  for (size_t i = 1; i < n; ++i) {
    bool started = false;  // once started, its share is never run again here
    (void)guarded("es shipper: starting a thread", [&] {
      const std::string name = name_prefix + std::to_string(i);
      threads.emplace_back([&work, i] { work(i); });
      started = true;
      set_thread_name(threads.back(), name);
    });
    if (!started) work(i);
  }
  if (n > 0) work(0);
}

std::string joined_lines(const std::vector<Item*>& chunk) {
  size_t n = 0;
  for (const Item* it : chunk) n += it->payload.size();
  std::string body;
  body.reserve(n);
  for (const Item* it : chunk) body += it->payload;
  return body;
}

}  // namespace

struct EsShipper::Impl {
  Impl(store::OutboxSource& s, EsShipperOptions o, const Clock& c,
       std::shared_ptr<const document::FieldMappingSet> f, std::unique_ptr<HttpClient> cl,
       std::unique_ptr<Sleeper> sl)
      : source(s),
        options(std::move(o)),
        clock(c),
        fields(std::move(f)),
        injected_client(cl != nullptr),
        client(cl ? std::move(cl)
                  : std::make_unique<CurlHttpClient>(HttpTls{
                        options.ca_file, options.verify_certificate, options.verify_hostname})),
        sleeper(sl ? std::move(sl) : std::make_unique<RealSleeper>()),
        service(options, *client),
        backoff(options.initial_backoff, options.max_backoff, std::random_device{}()) {
    // More requests in flight on connections of their own; an injected client (tests) is one.
    if (!injected_client) {
      for (size_t i = 1; i < options.workers; ++i) {
        auto lane = std::make_unique<Lane>();
        lane->client = std::make_unique<CurlHttpClient>(
            HttpTls{options.ca_file, options.verify_certificate, options.verify_hostname});
        lane->service = std::make_unique<EsService>(options, *lane->client);
        lanes.push_back(std::move(lane));
      }
    }
  }

  store::OutboxSource& source;  // the store's outbox and dead letters
  const EsShipperOptions options;
  const Clock& clock;
  std::shared_ptr<const document::FieldMappingSet> fields;
  const bool injected_client;  // a test's: the only connection (no other workers)
  std::unique_ptr<HttpClient> client;
  std::unique_ptr<Sleeper> sleeper;
  EsService service;
  // The other workers' connections: _bulk requests of one step are sent on all of them at once.
  struct Lane {
    std::unique_ptr<HttpClient> client;
    std::unique_ptr<EsService> service;
  };
  std::vector<std::unique_ptr<Lane>> lanes;
  Backoff backoff;
  std::thread thread;
  std::atomic<bool> stopping{false};
  std::atomic<bool> paused{false};
  bool unrefreshed = false;  // documents were indexed since the last _refresh
  uint64_t next = 0;         // the outbox sequence the next read starts at
  uint64_t dead_next = 0;    // the dead-letter sequence the next read starts at
  bool started = false;
  store::IngestBatch dead;  // dead letters of the batch being shipped
  // Forwarded dead letters of the step: counted once the checkpoint is past them.
  uint64_t step_forwarded = 0, step_refused = 0;

  prometheus::Family<prometheus::Counter>* requests = nullptr;
  prometheus::Family<prometheus::Counter>* by_query_requests = nullptr;
  prometheus::Family<prometheus::Counter>* items = nullptr;
  prometheus::Counter* dead_lettered = nullptr;
  prometheus::Counter* erasures_propagated = nullptr;
  prometheus::Counter* labels_shipped = nullptr;
  prometheus::Gauge* backlog_events = nullptr;
  prometheus::Gauge* backlog_bytes = nullptr;
  prometheus::Gauge* lag_seconds = nullptr;
  prometheus::Gauge* paused_gauge = nullptr;
  prometheus::Counter* dead_letters_forwarded = nullptr;
  prometheus::Counter* dead_letters_refused = nullptr;
  prometheus::Counter* dead_letters_trimmed = nullptr;
  prometheus::Gauge* dead_letters_backlog = nullptr;

  bool should_stop() const { return stopping.load(); }
  // Waits out the next backoff; true when stopping.
  bool back_off() { return sleeper->sleep_for(backoff.next()); }

  void run();
  // Reads one batch from `next` and ships it; kIdle when the outbox had nothing due.
  enum class Step { kShipped, kIdle, kStopping, kFailed };
  Step step(bool wait_for_more);
  std::vector<std::optional<Result<std::string>>> encode_predictions(
      const std::vector<store::OutboxEntry>& entries);
  bool ship_bulk(std::vector<Item>& batch);
  // Sends chunks[i] as one _bulk request each, at once (the first on this thread).
  std::vector<EsService::BulkAnswer> send_bulk(const std::vector<std::vector<Item*>>& chunks);
  void read_bulk_answer(RequestQueue<Item>& q, const std::vector<Item*>& chunk,
                        const EsService::BulkAnswer& a);
  bool ship_by_query(const char* endpoint, std::vector<Item>& batch);
  void dead_letter(const Item& it, std::string type, std::string reason);
  // An item refused for good: a forwarded dead letter is counted and logged (a dead letter is
  // never dead-lettered again, and never retried for ever); anything else is dead-lettered.
  void refused(const Item& it, std::string type, std::string reason, long status);
  // The dead letters of a step, after its predictions: the room the predictions leave in it,
  // and at least a tenth of a batch (a steady stream of predictions never starves them).
  Result<store::DeadLetterRead> read_dead_letters(size_t predictions, size_t prediction_bytes);
  bool commit_dead_letters(uint64_t checkpoint);
  void set_paused(bool on, const std::string& why);
  void count_request(const char* request, Verdict v) const {
    if (std::string_view(request) == "bulk") {
      requests->Add({{"outcome", verdict_name(v)}}).Increment();
    } else {
      by_query_requests->Add({{"request", request}, {"outcome", verdict_name(v)}}).Increment();
    }
  }
};

void EsShipper::Impl::dead_letter(const Item& it, std::string type, std::string reason) {
  Reject rj;
  rj.type = std::move(type);
  rj.reason = "sequence " + std::to_string(it.sequence) + ": " + reason;
  rj.line = it.sequence;
  if (it.document != nullptr) {
    rj.document = *it.document;
    rj.raw_length = it.document->size();
  }
  dead.rejects.push_back(std::move(rj));
}

// The dead-letter entries of a batch are committed with the outbox checkpoint past the batch, in
// one write: neither a crash nor a failed acknowledgment after it sends the batch again (which
// would dead-letter its refused records twice). The shipper goes on from there either way.
bool EsShipper::Impl::commit_dead_letters(uint64_t checkpoint) {
  if (dead.rejects.empty()) return true;
  const size_t n = dead.rejects.size();
  // Types and sequences only: Elasticsearch's reasons may quote (masked) document values.
  spdlog::warn("es shipper: {} entries written to the dead-letter store (first: sequence {}, {})",
               n, dead.rejects.front().line, dead.rejects.front().type);
  dead.input = "es_shipper";
  dead.outbox_checkpoint = checkpoint;
  std::promise<Status> committed;
  auto done = committed.get_future();
  source.write_dead_letters(std::move(dead),
                            [&](const store::CommitResult& r) { committed.set_value(r.status); });
  dead = store::IngestBatch();
  if (auto s = done.get(); !s) {
    spdlog::error("es shipper: cannot write {} dead-letter entries: {}", n, s.message());
    return false;
  }
  dead_lettered->Increment(static_cast<double>(n));
  next = checkpoint;  // stored: the acknowledgment only deletes the entries and counts them
  return true;
}

void EsShipper::Impl::refused(const Item& it, std::string type, std::string reason, long status) {
  if (!it.forwarded_dead_letter) {
    dead_letter(it, std::move(type), std::move(reason));
    return;
  }
  ++step_refused;
  // The status and Elasticsearch's error type only: its reason may quote (masked) values.
  spdlog::warn(
      "es shipper: Elasticsearch refused dead letter {} for good ({} {}); it stays in the "
      "dead-letter store, not forwarded",
      it.sequence, status, type);
}

Result<store::DeadLetterRead> EsShipper::Impl::read_dead_letters(size_t predictions,
                                                                 size_t prediction_bytes) {
  if (!options.dead_letters) {
    store::DeadLetterRead none;
    none.next = dead_next;
    return none;
  }
  const size_t workers = 1 + lanes.size();
  const size_t events = options.batch_events * workers, bytes = options.batch_bytes.bytes * workers;
  const size_t max_events = std::max(
      {events > predictions ? events - predictions : 0, options.batch_events / 10, size_t{1}});
  const size_t max_bytes = std::max({bytes > prediction_bytes ? bytes - prediction_bytes : 0,
                                     options.batch_bytes.bytes / 10, size_t{1}});
  return source.read_dead_letters(dead_next, max_events, max_bytes);
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

namespace {
std::string es_type(const std::string& type, long status) {
  return "elasticsearch_" + (type.empty() ? std::to_string(status) : type);
}
}  // namespace

// Ships every item of `batch`: true once each is delivered or dead-lettered, false when stopping.
bool EsShipper::Impl::ship_bulk(std::vector<Item>& batch) {
  std::vector<Item*> all;
  all.reserve(batch.size());
  for (auto& it : batch) all.push_back(&it);
  RequestQueue<Item> q(std::move(all), options.batch_events, options.batch_bytes.bytes);
  while (!q.done()) {
    if (q.round_done()) {
      if (back_off()) return false;
      q.next_round();
    }
    std::vector<std::vector<Item*>> chunks;
    while (!q.round_done() && chunks.size() < 1 + lanes.size()) chunks.push_back(q.take());
    const std::vector<EsService::BulkAnswer> answers = send_bulk(chunks);
    for (size_t i = 0; i < chunks.size(); ++i) read_bulk_answer(q, chunks[i], answers[i]);
    // Paused while any worker's host refuses our credentials, even if another one accepted them.
    const EsService::BulkAnswer* refused = nullptr;
    bool accepted = false;
    for (const auto& a : answers) {
      if (a.verdict == Verdict::kUnauthorized) refused = &a;
      accepted = accepted || a.verdict == Verdict::kDone;
    }
    if (refused != nullptr) {
      set_paused(true, refused->why);
    } else if (accepted) {
      set_paused(false, "");
    }
    if (should_stop()) return false;
  }
  backoff.reset();
  return true;
}

std::vector<EsService::BulkAnswer> EsShipper::Impl::send_bulk(
    const std::vector<std::vector<Item*>>& chunks) {
  std::vector<EsService::BulkAnswer> answers(chunks.size());
  // Never throws: a request that cannot be built or sent (std::bad_alloc) is retried.
  auto send = [&](EsService& s, size_t i) noexcept {
    if (auto st = guarded("es shipper: a _bulk request",
                          [&] { answers[i] = s.bulk(joined_lines(chunks[i]), chunks[i].size()); });
        !st) {
      answers[i] = EsService::BulkAnswer();
      answers[i].verdict = Verdict::kRetry;
      answers[i].why = st.message();
    }
  };
  on_threads(chunks.size(), "verity-ship-",
             [&](size_t i) noexcept { send(i == 0 ? service : *lanes[i - 1]->service, i); });
  return answers;
}

void EsShipper::Impl::read_bulk_answer(RequestQueue<Item>& q, const std::vector<Item*>& chunk,
                                       const EsService::BulkAnswer& a) {
  count_request("bulk", a.verdict);
  switch (a.verdict) {
    case Verdict::kDone:
      unrefreshed = true;
      for (size_t i = 0; i < chunk.size(); ++i) {
        const BulkItemOutcome& r = a.items[i];
        items->Add({{"status", std::to_string(r.status)}}).Increment();
        if (r.verdict == Verdict::kRetry) {
          q.retry(chunk[i]);
        } else if (r.verdict == Verdict::kRefused) {
          refused(
              *chunk[i], es_type(r.type, r.status),
              "Elasticsearch answered " + std::to_string(r.status) + " " + r.type + ": " + r.reason,
              r.status);
        } else if (chunk[i]->forwarded_dead_letter) {
          ++step_forwarded;  // 201, or 409: there already (sent before a crash)
        }
      }
      break;
    case Verdict::kTooLarge:
    case Verdict::kRefused:
      // One of the items may be the cause: halve until it is alone, then it goes.
      if (chunk.size() > 1) {
        q.split(chunk);
      } else {
        refused(*chunk[0], es_type(a.error_type, a.status),
                a.verdict == Verdict::kTooLarge
                    ? "the document alone is larger than Elasticsearch accepts (413)"
                    : "Elasticsearch refused it (" + std::to_string(a.status) + " " + a.error_type +
                          "): " + a.error_reason,
                a.status);
      }
      break;
    case Verdict::kUnauthorized:  // ship_bulk pauses
      q.retry(chunk);
      break;
    case Verdict::kRetry:
      spdlog::warn("es shipper: {}; retrying {} items", a.why, chunk.size());
      q.retry(chunk);
      break;
  }
}

// Labels (_update_by_query) or erasures (_delete_by_query), classified like bulk items: true once
// every one is applied or dead-lettered, false when stopping.
bool EsShipper::Impl::ship_by_query(const char* endpoint, std::vector<Item>& batch) {
  const bool labels = std::string_view(endpoint) == "_update_by_query";
  const char* request = labels ? "update_by_query" : "delete_by_query";
  std::vector<Item*> all;
  for (auto& it : batch) all.push_back(&it);
  RequestQueue<Item> q(std::move(all), options.batch_events, options.batch_bytes.bytes);
  while (!q.done()) {
    if (q.round_done()) {
      if (back_off()) return false;
      q.next_round();
    }
    std::vector<Item*> chunk = q.take();
    // By-query requests search, and search is near real time: documents indexed since the last
    // refresh are invisible to them. Refresh first when anything was indexed since.
    if (unrefreshed) {
      EsService::Answer r = service.refresh();
      count_request("refresh", r.verdict);
      if (r.verdict == Verdict::kDone) {
        unrefreshed = false;
      } else {
        if (r.verdict == Verdict::kUnauthorized) set_paused(true, r.why);
        spdlog::warn("es shipper: refresh before {}: {}; retrying", request, r.why);
        q.retry(chunk);
        continue;
      }
    }
    std::string body;
    if (labels) {
      std::vector<std::pair<std::string, std::string>> l;
      l.reserve(chunk.size());
      for (const Item* it : chunk) l.emplace_back(it->request_id, it->payload);
      body = update_labels_body(l);
    } else {
      std::vector<std::string> ids;
      ids.reserve(chunk.size());
      for (const Item* it : chunk) ids.push_back(it->request_id);
      body = delete_by_ids_body(ids);
    }
    EsService::ByQueryResult r = service.by_query(endpoint, body);
    Verdict verdict = r.verdict;
    std::string why = r.why, type = r.error_type, reason = r.error_reason;
    if (verdict == Verdict::kDone && !r.answer.failures.empty()) {
      // Some documents failed. Any failure worth retrying (a conflict, 429, 5xx): the whole
      // request again later (setting a label or deleting twice is harmless). Otherwise the named
      // documents are refused for good, and the rest is sent again at once: Elasticsearch stops a
      // by-query request at its first failure, so the others may not have been applied.
      const auto& failures = r.answer.failures;
      const bool retry = std::any_of(failures.begin(), failures.end(),
                                     [](const auto& f) { return f.verdict == Verdict::kRetry; });
      verdict = retry ? Verdict::kRetry : Verdict::kRefused;
      if (!retry) {
        std::unordered_map<std::string, const ByQueryAnswer::Failure*> by_id;
        for (const auto& f : failures) {
          if (!f.id.empty()) by_id.emplace(f.id, &f);
        }
        std::vector<Item*> rest;
        bool named = false;
        for (Item* it : chunk) {
          auto f = by_id.find(it->request_id);
          if (f == by_id.end()) {
            rest.push_back(it);
            continue;
          }
          named = true;
          dead_letter(*it, es_type(f->second->type, f->second->status),
                      std::string("Elasticsearch refused ") + request + " (" +
                          std::to_string(f->second->status) + " " + f->second->type +
                          "): " + f->second->reason);
        }
        if (named) {
          count_request(request, Verdict::kRefused);
          q.again(std::move(rest));
          continue;
        }
        type = failures.front().type;
        reason = failures.front().reason;
      }
      why += ": " + std::to_string(failures.size()) + " failures";
    }
    count_request(request, verdict);
    switch (verdict) {
      case Verdict::kDone:
        set_paused(false, "");
        if (labels) {
          labels_shipped->Increment(static_cast<double>(chunk.size()));
        } else {
          erasures_propagated->Increment(static_cast<double>(chunk.size()));
        }
        break;
      case Verdict::kTooLarge:
      case Verdict::kRefused:
        if (chunk.size() > 1) {
          q.split(chunk);
        } else {
          dead_letter(*chunk[0], es_type(type, r.status),
                      std::string("Elasticsearch refused ") + request + " (" +
                          std::to_string(r.status) + " " + type + "): " + reason);
        }
        break;
      case Verdict::kUnauthorized:
        set_paused(true, why);
        q.retry(chunk);
        break;
      case Verdict::kRetry:
        spdlog::warn("es shipper: {} for {} documents: {}; retrying", request, chunk.size(), why);
        q.retry(chunk);
        break;
    }
    if (should_stop()) return false;
  }
  backoff.reset();
  return true;
}

// The _bulk lines of every prediction among `entries` (nothing for other kinds), split in
// contiguous shares between this thread and one more per extra worker: the encoder is a pure
// function of its entry, and it was most of the shipper thread's time (each stored document is
// parsed again for its summary), so one thread capped what the workers could send.
std::vector<std::optional<Result<std::string>>> EsShipper::Impl::encode_predictions(
    const std::vector<store::OutboxEntry>& entries) {
  std::vector<std::optional<Result<std::string>>> out(entries.size());
  auto encode = [&](size_t from, size_t to) noexcept {
    // Never throws: what a failed share leaves unencoded, the caller encodes itself.
    (void)guarded("es shipper: encoding predictions", [&] {
      for (size_t i = from; i < to; ++i) {
        if (entries[i].kind == store::OutboxEntry::Kind::kPrediction) {
          out[i] = bulk_create(options, entries[i], fields.get());
        }
      }
    });
  };
  constexpr size_t kLeastShare = 64;  // fewer per thread is not worth a thread
  const size_t shares = std::clamp<size_t>(entries.size() / kLeastShare, 1, 1 + lanes.size());
  const size_t per = (entries.size() + shares - 1) / std::max<size_t>(shares, 1);
  on_threads(shares, "verity-encode-", [&](size_t k) noexcept {
    encode(std::min(entries.size(), k * per), std::min(entries.size(), (k + 1) * per));
  });
  return out;
}

EsShipper::Impl::Step EsShipper::Impl::step(bool wait_for_more) {
  // One batch per worker: their _bulk requests go out at once.
  const size_t workers = 1 + lanes.size();
  auto read =
      source.read_outbox(next, options.batch_events * workers, options.batch_bytes.bytes * workers);
  if (!read) {
    spdlog::warn("es shipper: reading the outbox: {}", read.status().message());
    return Step::kFailed;
  }
  auto& entries = read->entries;
  size_t prediction_bytes = 0;
  for (const auto& e : entries) prediction_bytes += e.record.document.size() + 64;
  auto letters_read = read_dead_letters(entries.size(), prediction_bytes);
  if (!letters_read) {
    spdlog::warn("es shipper: reading the dead-letter store: {}", letters_read.status().message());
    return Step::kFailed;
  }
  const auto& letters = letters_read->entries;
  if (entries.empty() && read->next == next && letters.empty()) return Step::kIdle;
  const size_t n = entries.size() + letters.size();
  if (wait_for_more && n > 0 && n < options.batch_events) {
    // A partial batch waits for more, at most flush_interval since its oldest event arrived.
    EpochMillis oldest = 0;
    if (!entries.empty()) oldest = entries.front().record.ingest_time_ms;
    if (!letters.empty() && letters.front().ingest_time_ms > 0) {
      const EpochMillis l = letters.front().ingest_time_ms;
      oldest = oldest > 0 ? std::min(oldest, l) : l;
    }
    if (oldest > 0 && clock.now_ms() < oldest + options.flush_interval.count()) return Step::kIdle;
  }
  step_forwarded = step_refused = 0;

  std::vector<Item> predictions, labels, erasures;
  predictions.reserve(entries.size() + letters.size());
  std::unordered_map<std::string_view, size_t> label_at;  // one update per request id
  std::vector<std::optional<Result<std::string>>> encoded = encode_predictions(entries);
  for (size_t i = 0; i < entries.size(); ++i) {
    const auto& e = entries[i];
    Item it;
    it.sequence = e.sequence;
    it.request_id = e.record.request_id;
    switch (e.kind) {
      case store::OutboxEntry::Kind::kPrediction: {
        it.document = &e.record.document;
        // Encoded already, unless the thread that had it stopped early (std::bad_alloc).
        auto lines = encoded[i] ? std::move(*encoded[i]) : bulk_create(options, e, fields.get());
        if (!lines) {
          it.document = nullptr;  // not JSON: a dead-letter entry keeps JSON documents only
          dead_letter(it, "unshippable_record", lines.status().message());
          continue;
        }
        it.payload = std::move(*lines);
        predictions.push_back(std::move(it));
        break;
      }
      case store::OutboxEntry::Kind::kLabel: {
        it.document = &e.label->document;
        auto l = label_fields(e.record, *e.label, fields.get());
        if (!l) {
          it.document = nullptr;
          dead_letter(it, "unshippable_record", l.status().message());
          continue;
        }
        it.payload = std::move(*l);
        // Two entries for one request id carry the same (current) label; a map with one key twice
        // would be refused as a whole (Elasticsearch's strict duplicate detection).
        if (auto [at, fresh] = label_at.try_emplace(e.record.request_id, labels.size()); !fresh) {
          labels[at->second] = std::move(it);
        } else {
          labels.push_back(std::move(it));
        }
        break;
      }
      case store::OutboxEntry::Kind::kErasure:
        erasures.push_back(std::move(it));
        break;
      case store::OutboxEntry::Kind::kUnreadable:
        dead_letter(it, "unreadable_record", e.problem);
        break;
    }
  }
  // Dead letters ride after the predictions (theirs come first in the requests), bounded by what
  // read_dead_letters took. One that cannot be encoded (not JSON: never written so) is refused.
  for (const auto& d : letters) {
    auto lines = bulk_create_dead_letter(options, d.sequence, d.json);
    if (!lines) {
      ++step_refused;
      spdlog::warn("es shipper: {}; not forwarded", lines.status().message());
      continue;
    }
    Item it;
    it.sequence = d.sequence;
    it.payload = std::move(*lines);
    it.forwarded_dead_letter = true;
    predictions.push_back(std::move(it));
  }
  if (!predictions.empty() && !ship_bulk(predictions)) return Step::kStopping;
  // After the batch: a label or an erasure always follows its prediction in the outbox.
  if (!labels.empty() && !ship_by_query("_update_by_query", labels)) return Step::kStopping;
  if (!erasures.empty() && !ship_by_query("_delete_by_query", erasures)) return Step::kStopping;
  if (!commit_dead_letters(read->next)) return Step::kFailed;
  if (auto s = source.ack_outbox(read->next); !s) {
    spdlog::error("es shipper: cannot move the checkpoint: {}", s.message());
    return Step::kFailed;
  }
  next = read->next;
  if (letters_read->next != dead_next) {
    if (auto s = source.ack_dead_letters(letters_read->next); !s) {
      spdlog::error("es shipper: cannot move the dead-letter checkpoint: {}", s.message());
      return Step::kFailed;  // they are sent again: 409s, counted then
    }
    dead_next = letters_read->next;
  }
  dead_letters_forwarded->Increment(static_cast<double>(step_forwarded));
  dead_letters_refused->Increment(static_cast<double>(step_refused));
  return Step::kShipped;
}

void EsShipper::Impl::run() {
  next = source.outbox_checkpoint();
  dead_next = source.dead_letter_checkpoint();
  while (!should_stop()) {
    Step s = Step::kFailed;
    if (auto g = guarded("es shipper", [&] { s = step(true); }); !g) {
      spdlog::error("{}", g.message());  // retried after a backoff, like a failed read
    }
    if (s == Step::kStopping) return;
    if (s == Step::kShipped) continue;
    // Idle: poll again soon (a partial batch is due within flush_interval); failed: back off.
    const Duration wait =
        s == Step::kFailed
            ? options.initial_backoff
            : Duration(std::clamp<int64_t>(options.flush_interval.count() / 4, 5, 50));
    dead = store::IngestBatch();  // a failed step's dead letters are found again next time
    if (sleeper->sleep_for(wait)) return;
  }
}

bool EsShipper::ship_once() {
  Impl& im = *impl_;
  if (!im.started) {
    im.next = im.source.outbox_checkpoint();
    im.dead_next = im.source.dead_letter_checkpoint();
    im.started = true;
  }
  const auto s = im.step(false);
  if (s != Impl::Step::kShipped) im.dead = store::IngestBatch();
  return s == Impl::Step::kShipped;
}

EsShipper::EsShipper(store::OutboxSource& source, EsShipperOptions options, const Clock& clock,
                     prometheus::Registry& registry,
                     std::shared_ptr<const document::FieldMappingSet> fields,
                     std::unique_ptr<HttpClient> client, std::unique_ptr<Sleeper> sleeper)
    : impl_(std::make_unique<Impl>(source, std::move(options), clock, std::move(fields),
                                   std::move(client), std::move(sleeper))) {
  Impl& im = *impl_;
  im.requests = &prometheus::BuildCounter()
                     .Name("verity_shipper_bulk_requests_total")
                     .Help("_bulk requests to Elasticsearch by outcome")
                     .Register(registry);
  im.by_query_requests =
      &prometheus::BuildCounter()
           .Name("verity_shipper_by_query_requests_total")
           .Help(
               "_update_by_query (labels), _delete_by_query (erasures) and _refresh requests to "
               "Elasticsearch by outcome")
           .Register(registry);
  im.items = &prometheus::BuildCounter()
                  .Name("verity_shipper_items_total")
                  .Help("Bulk items answered by Elasticsearch, by status")
                  .Register(registry);
  im.dead_lettered = &prometheus::BuildCounter()
                          .Name("verity_shipper_dead_lettered_total")
                          .Help(
                              "Predictions, labels and erasures Elasticsearch refused for good, "
                              "or that could not be turned into a request, written to the "
                              "dead-letter store")
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
                      .Help("Stored predictions, labels and erasures not yet delivered")
                      .Register(registry);
  im.backlog_events = &backlog.Add({{"unit", "events"}});
  im.backlog_bytes = &backlog.Add({{"unit", "bytes"}});
  im.lag_seconds =
      &prometheus::BuildGauge()
           .Name("verity_shipper_lag_seconds")
           .Help("Age (since ingest) of the oldest prediction or label not yet delivered")
           .Register(registry)
           .Add({});
  auto& dead_letters = prometheus::BuildCounter()
                           .Name("verity_shipper_dead_letters_total")
                           .Help(
                               "Entries of the dead-letter store forwarded to Elasticsearch "
                               "(forwarded: 201, or 409 already there), refused for good by it "
                               "(refused: counted and logged, never dead-lettered again), or "
                               "removed by the store's trim before they were forwarded (trimmed)")
                           .Register(registry);
  im.dead_letters_forwarded = &dead_letters.Add({{"outcome", "forwarded"}});
  im.dead_letters_refused = &dead_letters.Add({{"outcome", "refused"}});
  im.dead_letters_trimmed = &dead_letters.Add({{"outcome", "trimmed"}});
  im.dead_letters_backlog =
      &prometheus::BuildGauge()
           .Name("verity_shipper_dead_letters_backlog")
           .Help("Entries of the dead-letter store not yet forwarded to Elasticsearch")
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
  im->started = true;
  im->thread = std::thread([im] { im->run(); });
  set_thread_name(im->thread, "verity-shipper");
}

void EsShipper::stop() {
  impl_->stopping = true;
  impl_->sleeper->stop();
  if (impl_->thread.joinable()) impl_->thread.join();
}

void EsShipper::update_gauges() const {
  const Impl& im = *impl_;
  const auto b = im.source.outbox_backlog();
  im.backlog_events->Set(static_cast<double>(b.events));
  im.dead_letters_backlog->Set(
      im.options.dead_letters ? static_cast<double>(im.source.dead_letter_backlog()) : 0.0);
  // Removed by the store's trim before they were forwarded (taken here, before every scrape).
  const auto trimmed = im.source.take_dead_letters_trimmed();
  if (im.options.dead_letters) im.dead_letters_trimmed->Increment(static_cast<double>(trimmed));
  im.backlog_bytes->Set(static_cast<double>(b.bytes));
  double lag = 0;
  if (b.events > 0) {
    auto oldest = im.source.outbox_oldest_ingest_ms();
    if (oldest && *oldest) {
      lag = std::max(0.0, static_cast<double>(im.clock.now_ms() - **oldest) / 1000.0);
    }
  }
  im.lag_seconds->Set(lag);
}

std::string EsShipper::problem() const {
  if (impl_->paused.load()) return "elasticsearch shipper paused: credentials refused (401/403)";
  const auto b = impl_->source.outbox_backlog();
  if (b.events > impl_->options.max_backlog_events) {
    return "elasticsearch backlog of " + std::to_string(b.events) + " events is over " +
           std::to_string(impl_->options.max_backlog_events);
  }
  return "";
}

}  // namespace verity::shippers
