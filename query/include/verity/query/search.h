#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "verity/core/clock.h"
#include "verity/core/http.h"
#include "verity/core/status.h"

namespace verity::store {
class RecordReader;
}
namespace verity::document {
struct FieldMappingSet;
}

namespace verity::query {

class SearchIndexer;

// One read of prediction data, for the access audit (who read what).
struct ReadAccess {
  std::string endpoint;  // "search", "get", "report", ...
  std::string query;     // the request's query string as sent (or the path)
  uint64_t returned = 0;
  std::vector<std::string> request_ids;  // point lookups only
};
// Records a read; `req` carries the caller's credentials. Null: reads are not audited. An error
// means the read could not be recorded: the data is then not returned (503).
using ReadAuditor = std::function<Status(const HttpRequest& req, const ReadAccess& access)>;

struct SearchOptions {
  size_t default_limit = 100;
  size_t max_limit = 10'000;
  // Records read (matched or not) per request before the answer stops with `truncated` and a
  // cursor to go on from.
  uint64_t scan_budget = 200'000;
  // Without `model` and `from`, the window is the last this many milliseconds.
  int64_t default_window_ms = 86'400'000;
  // A page also ends (truncated, with a cursor) past this many bytes of answer or this long, so
  // that one request holds bounded memory and the store's read lock for a bounded time.
  // 3 MiB: a page's buffer (its capacity doubling as it grows, plus the hit that crosses the
  // bound) stays below jemalloc's 8 MiB `oversize_threshold` for hits up to about 1 MiB (the
  // default inputs' max_event), whose allocations go back to the OS when freed, so every larger
  // page faults its memory in afresh. Measured in one sitting
  // (verity-bench-search, 20M records, `verity serve`'s allocator): export 172-179 MB/s with 3 MiB
  // pages, 63-68 MB/s with 16 MiB pages.
  size_t max_page_bytes = 3u << 20;
  int64_t max_page_ms = 5'000;
  size_t max_fields = 100;  // distinct fields a `fields` list may name
  // The store's indexer (StoreOptions::indexer, the same object): queries on indexed fields read
  // through the field index, and blocks whose summary rules a query out are skipped. Null: every
  // record of the window is read.
  std::shared_ptr<const SearchIndexer> indexer;
};

// GET /v1/predictions?model=&version=&from=&to=&where=&fields=&order=&limit=&cursor=&format=
// &explain=: stored predictions in (@timestamp, request id) order (order=desc reverses it),
// filtered by `where` (kql.h), read through the store's time index.
// - format=ndjson (default): one hit a line, then {"_meta":{...}} with next_cursor and counts;
//   json: {"hits":[...], ...the same members as _meta}; csv: a header of `fields`, one row a hit.
//   Every format also sets X-Verity-Next-Cursor (when there may be more), X-Verity-Scanned and
//   X-Verity-Matched.
// - A hit is the stored record as GET /v1/predictions/{id} shows it (with "label" when one has
//   arrived; without "label_history", which GET adds), or, with `fields`, an object of those fields
//   (values as kql.h's paths find them: one value, an array of several, or null).
// - Fields a query or `fields` names: Verity's own (`request_id`, `model`, `version`, `input`,
//   `masking_version`, `partition`, `sequence`, `@timestamp`, `ingest_time`, `erased`; also spelled
//   `verity.<name>` as in the Elasticsearch copy), the label's (`label` = `label.ground_truth`: the
//   ground truth; `label.correct`, `label.error` by the rule Elasticsearch's copy uses;
//   `label_time` = `label.label_time`), and otherwise dotted paths into the stored document
//   (`input_features.amount`, also spelled `document.input_features.amount`; a member whose name
//   holds dots matches too). `confidence` and `score`, when the document has no such top-level
//   member, are the model's mapped confidence and score fields (fields.* in the config).
// - Erased predictions (tombstones) match only queries that name `erased` (`erased:true`); they
//   have no document.
// - Without `model` and `from`, the window is the last search.default_window (a day): a query
//   over every model never reads the whole store by accident. With `model`, `from` defaults to
//   the model's first record.
// - The cursor is opaque; it resumes after the last record read and is refused (400) with another
//   model, version, from, to, where or order than the query that made it.
// Thread-safe; the store must outlive this object. Runs a scan: call it off the I/O threads.
class SearchApi {
 public:
  // `hasher`: the masked form of a raw value (masking's hash action), for `f:~"raw"`; null when
  // masking is off.
  SearchApi(const store::RecordReader& store, const Clock& clock, SearchOptions options,
            const document::FieldMappingSet* fields, ReadAuditor auditor,
            std::function<std::string(std::string_view)> hasher = nullptr)
      : store_(store),
        clock_(clock),
        options_(options),
        fields_(fields),
        auditor_(std::move(auditor)),
        hasher_(std::move(hasher)) {}

  HttpResponse search(const HttpRequest& req) const;

 private:
  std::string masked_where(std::string_view where) const;
  const store::RecordReader& store_;
  const Clock& clock_;
  SearchOptions options_;
  const document::FieldMappingSet* fields_;
  ReadAuditor auditor_;
  std::function<std::string(std::string_view)> hasher_;
};

}  // namespace verity::query
