// Fuzzes search narrowing from stored documents and stored bytes: the indexer over any document,
// any KQL query over its summary and terms, and block summaries decoded from any bytes. Never a
// crash; and sound: when the query matches the document, the document's block summary says its
// block may match, and the document holds one of the field-index terms the query would read.
#include <fuzzer/FuzzedDataProvider.h>

#include <algorithm>
#include <cstdint>
#include <string>

#include "verity/query/kql.h"
#include "verity/query/search_indexer.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace verity;
  static const query::SearchIndexer indexer(
      nullptr, query::IndexedFields{{"m", {"a", "a.b", "confidence", "x.y", "b", "document.c"}}});
  FuzzedDataProvider in(data, size);
  const std::string document = in.ConsumeRandomLengthString(4096);
  const std::string where = in.ConsumeRandomLengthString(512);
  const std::string stored = in.ConsumeRemainingBytesAsString();

  // A stored summary: decoded or refused, and what decodes encodes back to itself.
  if (auto s = store::BlockSummary::decode(stored)) {
    const std::string again = s->encode();
    auto back = store::BlockSummary::decode(again);
    if (!back || back->encode() != again) __builtin_trap();
    s->merge(*back);
    (void)s->encode();
  }

  std::vector<store::IndexTerm> terms;
  store::BlockSummary summary;
  indexer.index("m", "v", document, terms, summary);
  if (!store::BlockSummary::decode(summary.encode())) __builtin_trap();

  const query::kql::Query::Hasher hasher = [](std::string_view raw) {
    return "hmac:" + std::string(raw.substr(0, 8));
  };
  auto q = query::kql::Query::parse(where, nullptr, 1'795'000'000'000, &hasher);
  if (!q || !indexer.matches(*q, "m", document)) return 0;
  if (!query::SearchIndexer::may_match(*q, summary)) __builtin_trap();
  auto wanted = q->index_terms(
      [](std::string_view path) { return indexer.canonical(path, std::string("m")); });
  if (wanted) {
    bool found = false;
    for (const auto& t : terms) {
      found = found || t.token == query::SearchIndexer::kOverflowToken ||
              std::find(wanted->begin(), wanted->end(), std::make_pair(t.field, t.token)) !=
                  wanted->end();
    }
    if (!found) __builtin_trap();
  }
  return 0;
}
