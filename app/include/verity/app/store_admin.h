#pragma once

#include <memory>
#include <string>

#include "verity/core/http.h"
#include "verity/core/time_format.h"
#include "verity/document/field_mapping.h"

namespace verity::ingest {
class Masker;
}
namespace verity::store {
class StoreAdmin;
}

namespace verity::app {

class Authenticator;

// HTTP handlers for the store's audit and administration: partitions, verification, legal holds,
// data-subject erasure and the admin audit trail. Thread-safe; the store, masker and authenticator
// must outlive this object. verify() and erase() scan the store: call them off the I/O threads.
class StoreAdminApi {
 public:
  StoreAdminApi(store::StoreAdmin& store, std::shared_ptr<const ingest::Masker> masker,
                document::JsonPointer subject_field, const Authenticator& auth)
      : store_(store),
        masker_(std::move(masker)),
        subject_(std::move(subject_field)),
        auth_(auth) {}

  // GET /v1/partitions: {"partitions":[{"partition","tier","records",...}]}
  HttpResponse partitions(const HttpRequest& req) const;
  // POST /v1/verify[?partition=P]:
  // {"ok":..,"partitions":[{"partition","records","ok","first_break"}]}
  HttpResponse verify(const HttpRequest& req) const;
  // GET /v1/holds: {"holds":["model:fraud","partition:p_20261120"]}
  HttpResponse holds(const HttpRequest& req) const;
  // POST /v1/holds {"model":M} | {"partition":P}; DELETE /v1/holds?model=M | ?partition=P
  HttpResponse set_hold(const HttpRequest& req) const;
  // POST /v1/erase {"subject":"<value>"}: erases every document whose subject field holds the
  // value as stored (the value itself, or its HMAC token when masking hashes the field).
  HttpResponse erase(const HttpRequest& req) const;
  // GET /v1/audit?from=&limit=: {"entries":[...]}
  HttpResponse audit(const HttpRequest& req) const;
  // GET /v1/audit?kind=read&from=&to=&actor=&after=&limit=: the read audit trail (who read what),
  // {"entries":[...],"next_after":id|null}; from/to as search takes them (RFC 3339, epoch
  // millis, date math), default the last day.
  HttpResponse read_audit(const HttpRequest& req, EpochMillis now) const;

 private:
  store::StoreAdmin& store_;
  std::shared_ptr<const ingest::Masker> masker_;
  document::JsonPointer subject_;
  const Authenticator& auth_;
};

}  // namespace verity::app
