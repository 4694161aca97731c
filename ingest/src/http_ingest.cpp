#include "verity/ingest/http_ingest.h"

#include <chrono>
#include <cstring>
#include <mutex>
#include <optional>
#include <vector>

#include <boost/asio.hpp>

#include "verity/document/json_writer.h"
#include "verity/ingest/bulk_request.h"
#include "verity/ingest/es_compat.h"
#include "verity/ingest/line_batcher.h"
#include "verity/ingest/ndjson_framer.h"
#include "verity/store/batch_sink.h"

namespace verity::ingest {
namespace asio = boost::asio;

namespace {

struct LineError {
  uint64_t line;
  std::string type;
  std::string reason;
};

// Which parts of a bulk response filter_path keeps ("errors,items.*.error,items.*.status").
struct BulkFilter {
  bool all = true;
  bool took = false, errors = false, items = false;  // top-level keys kept whole
  std::vector<std::string> item_fields;              // items.*.<field>

  explicit BulkFilter(std::string_view filter_path) {
    if (filter_path.empty()) return;
    all = false;
    while (!filter_path.empty()) {
      const size_t comma = filter_path.find(',');
      std::string_view f = filter_path.substr(0, comma);
      if (f == "took") took = true;
      if (f == "errors") errors = true;
      if (f == "items" || f == "items.*" || f == "items.*.*") items = true;
      if (f.rfind("items.*.", 0) == 0 && f.size() > 8) item_fields.emplace_back(f.substr(8));
      if (comma == std::string_view::npos) break;
      filter_path.remove_prefix(comma + 1);
    }
  }
  bool keep_item(std::string_view field) const {
    if (all || items) return true;
    for (const auto& f : item_fields) {
      if (f == field || f == "*") return true;
    }
    return false;
  }
  bool any_item_field() const { return all || items || !item_fields.empty(); }
};

// What became of one bulk item, known once its batch is committed.
struct ItemRef {
  BulkOp op;
  std::string index;
  std::string id;       // from the action; else the event's request id
  int64_t event = -1;   // index into the batch's events
  int64_t reject = -1;  // index into `errors`
};

std::string_view es_error_type(std::string_view reject_type) {
  if (reject_type == "unsupported_action") return "illegal_argument_exception";
  return "document_parsing_exception";
}

}  // namespace

struct HttpIngest::Impl : std::enable_shared_from_this<HttpIngest::Impl> {
  Impl(asio::io_context& io_, const InputContext& context, InputMetrics& bmt, HttpIngestOptions o)
      : io(io_),
        store(context.sink),
        mappings(context.mappings),
        clock(context.clock),
        metrics(context.metrics),
        bulk_metrics(bmt),
        masker(context.masker),
        masking_metrics(context.masking_metrics),
        options(o),
        admission(context.sink) {}

  asio::io_context& io;
  store::BatchSink& store;
  std::shared_ptr<const document::FieldMappingSet> mappings;
  const Clock& clock;
  InputMetrics& metrics;
  InputMetrics& bulk_metrics;
  std::shared_ptr<const Masker> masker;
  MaskingMetrics* masking_metrics;
  const HttpIngestOptions options;
  const Backpressure admission;

  // Decoders are costly to build; requests borrow them from a pool.
  std::mutex mu;
  std::vector<std::unique_ptr<LineBatcher>> free_ndjson, free_bulk;  // guarded by mu
  std::vector<std::unique_ptr<BulkParser>> free_parsers;             // guarded by mu

  std::unique_ptr<LineBatcher> acquire(bool bulk) {
    {
      std::lock_guard lock(mu);
      auto& pool = bulk ? free_bulk : free_ndjson;
      if (!pool.empty()) {
        auto b = std::move(pool.back());
        pool.pop_back();
        return b;
      }
    }
    return std::make_unique<LineBatcher>((bulk ? bulk_metrics : metrics).input(), mappings, clock,
                                         DecoderLimits{options.max_line.bytes, 64, 256}, masker,
                                         masking_metrics);
  }
  void release(std::unique_ptr<LineBatcher> b, bool bulk) {
    std::lock_guard lock(mu);
    auto& pool = bulk ? free_bulk : free_ndjson;
    if (pool.size() < 16) pool.push_back(std::move(b));
  }

  std::optional<HttpResponse> backpressure() const {
    const Backpressure::Verdict verdict = admission.admit_request();
    if (verdict == Backpressure::Verdict::kUnwritable) {
      // A full disk or an I/O error: the store retries, and a request queued now would wait for
      // it unanswered. Answered at once, without the store's reason (which names paths).
      HttpResponse r = document::error_response(
          503, "unavailable_shards_exception",
          "the store cannot write now (disk full or I/O error); retry after " +
              format_duration(options.retry_after));
      const auto seconds = std::max<int64_t>(1, (options.retry_after.count() + 999) / 1000);
      r.headers.emplace_back("Retry-After", std::to_string(seconds));
      return r;
    }
    if (verdict == Backpressure::Verdict::kAccept) return std::nullopt;
    HttpResponse r = document::error_response(
        429, "es_rejected_execution_exception",
        "the store's commit queue is full; retry after " + format_duration(options.retry_after));
    const auto seconds = std::max<int64_t>(1, (options.retry_after.count() + 999) / 1000);
    r.headers.emplace_back("Retry-After", std::to_string(seconds));
    return r;
  }

  void ndjson(HttpRequest req, HttpResponder respond, bool labels_only);
  void bulk(HttpRequest req, HttpResponder respond);
};

void HttpIngest::Impl::ndjson(HttpRequest req, HttpResponder respond, bool labels_only) {
  if (auto r = backpressure()) return respond(std::move(*r));
  if (req.body.find_first_not_of(" \t\r\n") == std::string::npos) {  // empty, or blank lines
    return respond(document::error_response(400, "parse_exception", "request body is required"));
  }
  auto batcher = acquire(false);
  batcher->set_max_rejects(options.max_dead_letters);
  NdjsonFramer framer(options.max_line.bytes, 1 << 20);
  auto add = [&](const FramedLine& line) {
    if (batcher->add(line) && labels_only && batcher->last_event().kind != EventKind::kLabel) {
      batcher->reject_last_event(
          "not_a_label", "line " + std::to_string(line.number) +
                             ": not a label (a label has a ground truth and no outputs); send "
                             "predictions to /v1/predictions");
    }
  };
  std::string_view rest = req.body;
  while (!rest.empty()) {
    auto area = framer.write_area();
    const size_t n = std::min(area.size(), rest.size());
    std::memcpy(area.data(), rest.data(), n);
    framer.commit(n);
    rest.remove_prefix(n);
    framer.drain(add);
  }
  framer.finish(add);
  store::IngestBatch batch = batcher->take();
  release(std::move(batcher), false);

  std::vector<LineError> errors;
  errors.reserve(batch.rejects.size());
  for (const auto& r : batch.rejects) errors.push_back({r.line, r.type, r.reason});
  std::vector<uint64_t> lines;
  lines.reserve(batch.events.size());
  for (const auto& e : batch.events) lines.push_back(e.line);
  const size_t received = batch.events.size() + batch.rejects.size() + batch.omitted();
  // Counts by type of every error (the answer lists only the first max_errors).
  std::vector<std::pair<std::string, uint64_t>> error_counts = batch.omitted_rejects;
  for (const auto& r : batch.rejects) {
    auto it = std::find_if(error_counts.begin(), error_counts.end(),
                           [&](const auto& c) { return c.first == r.type; });
    if (it == error_counts.end()) {
      error_counts.emplace_back(r.type, 1);
    } else {
      ++it->second;
    }
  }
  if (errors.size() > options.max_errors) errors.resize(options.max_errors);
  const size_t max_errors = options.max_errors;
  metrics.received(received);
  metrics.bytes(req.body.size());
  auto rejects = InputMetrics::count_rejects(batch);
  store.submit(std::move(batch), [self = shared_from_this(), respond = std::move(respond),
                                  errors = std::move(errors), lines = std::move(lines),
                                  rejects = std::move(rejects),
                                  error_counts = std::move(error_counts), max_errors,
                                  received](const store::CommitResult& result) mutable {
    self->metrics.committed(result, rejects);
    asio::post(self->io, [result, respond = std::move(respond), errors = std::move(errors),
                          lines = std::move(lines), error_counts = std::move(error_counts),
                          max_errors, received]() mutable {
      if (!result.status) {
        HttpResponse r =
            document::error_response(503, "store_unavailable", result.status.message());
        r.headers.emplace_back("Retry-After", "1");
        return respond(std::move(r));
      }
      uint64_t conflicts = 0;
      for (size_t i = 0; i < result.outcomes.size(); ++i) {
        if (result.outcomes[i] != store::EventOutcome::kDuplicateConflict) continue;
        ++conflicts;
        errors.push_back({lines[i], "duplicate_conflict",
                          "line " + std::to_string(lines[i]) +
                              ": a different document is already stored under this request "
                              "id; this one was dead-lettered"});
      }
      if (conflicts > 0) error_counts.emplace_back("duplicate_conflict", conflicts);
      std::sort(errors.begin(), errors.end(),
                [](const LineError& a, const LineError& b) { return a.line < b.line; });
      uint64_t total_errors = 0;
      for (const auto& [type, n] : error_counts) total_errors += n;
      if (errors.size() > max_errors) errors.resize(max_errors);
      const size_t rejected = received - result.stored - result.duplicates - result.dead_lettered;
      std::string body = "{\"received\":" + std::to_string(received) +
                         ",\"stored\":" + std::to_string(result.stored) +
                         ",\"duplicates\":" + std::to_string(result.duplicates) +
                         ",\"dead_lettered\":" + std::to_string(result.dead_lettered) +
                         ",\"rejected\":" + std::to_string(rejected) + ",\"errors\":[";
      for (size_t i = 0; i < errors.size(); ++i) {
        if (i > 0) body += ',';
        body += "{\"line\":" + std::to_string(errors[i].line) + ",\"type\":";
        document::append_json_string(body, errors[i].type);
        body += ",\"reason\":";
        document::append_json_string(body, errors[i].reason);
        body += '}';
      }
      body += ']';
      if (total_errors > errors.size()) {
        // A request of many bad lines gets a bounded answer: the first errors, then counts.
        body += ",\"errors_omitted\":" + std::to_string(total_errors - errors.size());
        body += ",\"error_counts\":{";
        for (size_t i = 0; i < error_counts.size(); ++i) {
          if (i > 0) body += ',';
          document::append_json_string(body, error_counts[i].first);
          body += ':' + std::to_string(error_counts[i].second);
        }
        body += '}';
      }
      body += "}\n";
      const bool none_accepted = result.stored + result.duplicates == 0 && received > 0;
      respond(HttpResponse::json(none_accepted ? 400 : 200, std::move(body)));
    });
  });
}

void HttpIngest::Impl::bulk(HttpRequest req, HttpResponder respond) {
  const auto start = std::chrono::steady_clock::now();
  if (auto r = backpressure()) return respond(std::move(*r));
  // "/{index}/_bulk" names the default index; "/_bulk" does not.
  std::string_view url_index;
  if (const size_t slash = req.path.find('/', 1); slash != std::string::npos && slash > 1) {
    url_index = std::string_view(req.path).substr(1, slash - 1);
  }
  std::unique_ptr<BulkParser> parser;
  {
    std::lock_guard lock(mu);
    if (!free_parsers.empty()) {
      parser = std::move(free_parsers.back());
      free_parsers.pop_back();
    }
  }
  if (!parser) parser = std::make_unique<BulkParser>(options.max_line.bytes);
  std::vector<BulkItem> items;
  BulkError perr;
  const bool parsed = parser->parse(req.body, url_index, items, perr);
  if (parsed && items.size() > options.max_bulk_actions) {
    {
      std::lock_guard lock(mu);
      free_parsers.push_back(std::move(parser));
    }
    return respond(es_error(413, "content_too_long_exception",
                            "a bulk request of " + std::to_string(items.size()) +
                                " actions exceeds http.elasticsearch.max_actions of " +
                                std::to_string(options.max_bulk_actions) +
                                "; send smaller batches"));
  }
  if (!parsed) {
    {
      std::lock_guard lock(mu);
      free_parsers.push_back(std::move(parser));
    }
    return respond(es_error(400, perr.type, perr.reason));
  }

  auto batcher = acquire(true);
  batcher->set_max_rejects(SIZE_MAX);  // one answer item per action: every reject is kept
  std::vector<ItemRef> refs;
  refs.reserve(items.size());
  std::vector<LineError> errors;
  int64_t events = 0;
  for (auto& item : items) {
    ItemRef ref{item.op, std::move(item.index), std::move(item.id)};
    if (item.op == BulkOp::kIndex || item.op == BulkOp::kCreate) {
      if (batcher->add(item.source)) {
        ref.event = events++;
        if (ref.id.empty()) ref.id = batcher->last_event().request_id;
      } else {
        ref.reject = static_cast<int64_t>(errors.size());
        errors.push_back({item.source.number, "", ""});
      }
    } else {
      Reject r;
      r.type = "unsupported_action";
      r.reason = "line " + std::to_string(item.action_line) + ": the [" +
                 std::string(bulk_op_name(item.op)) +
                 "] action is not supported: Verity is an append-only store (use index or create)";
      r.line = item.action_line;
      ref.reject = static_cast<int64_t>(errors.size());
      errors.push_back({item.action_line, "", ""});
      batcher->add_reject(std::move(r));
    }
    refs.push_back(std::move(ref));
  }
  {
    std::lock_guard lock(mu);
    free_parsers.push_back(std::move(parser));
  }
  store::IngestBatch batch = batcher->take();
  release(std::move(batcher), true);
  // The batch's rejects are in item order, like `errors`.
  for (size_t i = 0; i < batch.rejects.size(); ++i) {
    errors[i].type = batch.rejects[i].type;
    errors[i].reason = batch.rejects[i].reason;
  }
  bulk_metrics.received(batch.events.size() + batch.rejects.size() + batch.omitted());
  bulk_metrics.bytes(req.body.size());
  auto rejects = InputMetrics::count_rejects(batch);
  BulkFilter filter(req.query_param("filter_path"));
  store.submit(std::move(batch), [self = shared_from_this(), respond = std::move(respond),
                                  refs = std::move(refs), errors = std::move(errors),
                                  rejects = std::move(rejects), filter = std::move(filter),
                                  start](const store::CommitResult& result) mutable {
    self->bulk_metrics.committed(result, rejects);
    asio::post(self->io, [result, respond = std::move(respond), refs = std::move(refs),
                          errors = std::move(errors), filter = std::move(filter), start]() mutable {
      if (!result.status) {
        HttpResponse r =
            document::error_response(503, "unavailable_shards_exception", result.status.message());
        r.headers.emplace_back("Retry-After", "1");
        return respond(std::move(r));
      }
      bool any_error = false;
      std::string items;
      items.reserve(refs.size() * 96);
      for (size_t i = 0; i < refs.size(); ++i) {
        const ItemRef& ref = refs[i];
        int status = 201;
        std::string_view etype, ereason;
        std::string conflict;
        if (ref.reject >= 0) {
          status = 400;
          etype = es_error_type(errors[ref.reject].type);
          ereason = errors[ref.reject].reason;
        } else {
          switch (result.outcomes[static_cast<size_t>(ref.event)]) {
            case store::EventOutcome::kStored:
            case store::EventOutcome::kDuplicate:
              break;
            case store::EventOutcome::kDuplicateConflict:
              status = 409;
              etype = "version_conflict_engine_exception";
              conflict = "[" + ref.id +
                         "]: version conflict, a different document is already stored under this "
                         "request id; this one was dead-lettered";
              ereason = conflict;
              break;
            case store::EventOutcome::kFailed:
              status = 503;
              etype = "unavailable_shards_exception";
              ereason = "the store was unavailable";
              break;
          }
        }
        any_error = any_error || status >= 300;
        if (!filter.any_item_field()) continue;
        if (!items.empty()) items += ',';
        items += "{\"";
        items += bulk_op_name(ref.op);
        items += "\":{";
        bool first = true;
        auto key = [&](std::string_view k) {
          if (!filter.keep_item(k)) return false;
          if (!first) items += ',';
          first = false;
          items += '"';
          items += k;
          items += "\":";
          return true;
        };
        if (key("_index")) document::append_json_string(items, ref.index);
        if (key("_id")) {
          if (ref.id.empty()) {
            items += "null";
          } else {
            document::append_json_string(items, ref.id);
          }
        }
        if (status < 300) {
          if (key("_version")) items += '1';
          if (key("result")) items += "\"created\"";
          if (key("_shards")) items += R"({"total":1,"successful":1,"failed":0})";
        }
        if (key("status")) items += std::to_string(status);
        if (status >= 300 && key("error")) {
          items += "{\"type\":";
          document::append_json_string(items, etype);
          items += ",\"reason\":";
          document::append_json_string(items, ereason);
          items += '}';
        }
        items += "}}";
      }
      const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(
                            std::chrono::steady_clock::now() - start)
                            .count();
      std::string body = "{";
      if (filter.all || filter.took) body += "\"took\":" + std::to_string(took) + ",";
      if (filter.all || filter.errors) body += any_error ? "\"errors\":true," : "\"errors\":false,";
      if (filter.any_item_field()) body += "\"items\":[" + items + "],";
      if (body.back() == ',') body.pop_back();
      body += '}';
      respond(HttpResponse::json(200, std::move(body)));
    });
  });
}

HttpIngest::HttpIngest(asio::io_context& io, const InputContext& context,
                       InputMetrics& bulk_metrics, HttpIngestOptions options)
    : impl_(std::make_shared<Impl>(io, context, bulk_metrics, options)) {}

HttpIngest::~HttpIngest() = default;

void HttpIngest::predictions(HttpRequest req, HttpResponder respond) {
  impl_->ndjson(std::move(req), std::move(respond), false);
}
void HttpIngest::labels(HttpRequest req, HttpResponder respond) {
  impl_->ndjson(std::move(req), std::move(respond), true);
}
void HttpIngest::bulk(HttpRequest req, HttpResponder respond) {
  impl_->bulk(std::move(req), std::move(respond));
}

}  // namespace verity::ingest
