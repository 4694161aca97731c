#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "verity/store/search_index.h"

namespace verity::document {
struct FieldMappingSet;
}

namespace verity::query {
namespace kql {
class Query;
}

// Fields a search finds through an index (`search.indexed_fields`): per model, document paths as
// KQL names them (`user_id`, `input_features.region`); the model "*" stands for every model.
using IndexedFields = std::map<std::string, std::vector<std::string>, std::less<>>;

// What the store keeps for search (store/search_index.h), read from documents the way KQL reads
// them (search.h): every value a query path finds at an indexed field is one term, so a lookup of
// a term's tokens finds every record a `field:value` query matches; and every value a query can
// find is in its block's summary. A field holding more than kMaxTermsPerField distinct values in
// one document is indexed by one overflow token instead, which every lookup of that field reads.
class SearchIndexer final : public store::Indexer {
 public:
  static constexpr size_t kMaxTermsPerField = 64;
  static constexpr std::string_view kOverflowToken = "o";

  // `fields` null: every model has the default mapping.
  SearchIndexer(std::shared_ptr<const document::FieldMappingSet> fields, IndexedFields indexed,
                bool summaries = true);

  // The document path a configured field or a query path names (`document.` removed), or
  // nullopt for Verity's own fields and the label's, which are not indexed.
  static std::optional<std::string> field_name(std::string_view path);

  std::string spec() const override;
  bool summarizes() const override { return summaries_; }
  bool indexes(std::string_view model, std::string_view field) const override;
  void index(std::string_view model, std::string_view version, std::string_view document,
             std::vector<store::IndexTerm>& terms, store::BlockSummary& summary) const override;

  // Whether a block with this summary may hold a record `query` matches (read by the search's
  // field rules: Verity's own fields, the label's and mapped `confidence`/`score` are unknown).
  static bool may_match(const kql::Query& query, const store::BlockSummary& summary);
  // Whether `query` matches a prediction of `model` with this document, as a search reads it
  // (without a label). For tests: the summaries and terms must find every such match.
  bool matches(const kql::Query& query, std::string_view model, std::string_view document) const;

  // The indexed field a query path names for `model` (every model when nullopt: a field any
  // model indexes), or nullopt.
  std::optional<std::string> canonical(std::string_view path,
                                       const std::optional<std::string>& model) const;
  const IndexedFields& indexed() const { return indexed_; }

 private:
  const std::vector<std::string>* fields_of(std::string_view model) const;
  std::shared_ptr<const document::FieldMappingSet> mappings_;
  IndexedFields indexed_;
  bool summaries_;
};

}  // namespace verity::query
