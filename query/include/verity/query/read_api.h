#pragma once

#include "verity/core/http.h"

namespace verity::store {
class Store;
}

namespace verity::query {

// HTTP handlers for auditors' reads. Thread-safe; the store must outlive this object.
class ReadApi {
 public:
  explicit ReadApi(const store::Store& store) : store_(store) {}

  // GET /v1/predictions/{request_id}: the stored prediction with Verity's metadata and, when one
  // has arrived, its latest label. 404 {"error":{"type":"not_found",...}} when absent.
  HttpResponse get_prediction(const HttpRequest& req) const;

 private:
  const store::Store& store_;
};

}  // namespace verity::query
