#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "verity/core/http.h"
#include "verity/query/search.h"

namespace verity::store {
class RecordReader;
}

namespace verity::query {

// HTTP handlers for auditors' reads. Thread-safe; the store must outlive this object.
class ReadApi {
 public:
  // The forms a request id as sent may be stored under, tried in order (the id, and its HMAC token
  // when masking hashes request ids): see ingest::Masker::request_id_forms. Null: the id only.
  using IdForms = std::function<std::vector<std::string>(std::string_view)>;
  explicit ReadApi(const store::RecordReader& store, IdForms id_forms = nullptr,
                   ReadAuditor auditor = nullptr)
      : store_(store), id_forms_(std::move(id_forms)), auditor_(std::move(auditor)) {}

  // GET /v1/predictions/{request_id}: the stored prediction with Verity's metadata and, when one
  // has arrived, its latest label ("label") and the labels it replaced ("label_history"). 404
  // {"error":{"type":"not_found",...}} when absent. Recorded in the read audit either way.
  HttpResponse get_prediction(const HttpRequest& req) const;

 private:
  const store::RecordReader& store_;
  IdForms id_forms_;
  ReadAuditor auditor_;
};

}  // namespace verity::query
