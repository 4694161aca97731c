#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "verity/core/status.h"
#include "verity/core/time_format.h"
#include "verity/store/retention.h"

namespace verity::store {

// A data-subject erasure: every stored document for which `matches` is true. `needles` must be
// non-empty: `matches` is asked only about documents whose bytes contain one of them (the
// subject's stored forms, and whatever else may hide one: StoreAdminApi adds JSON's \u and \/
// escapes), so the scan is a substring search for the records that cannot hold the subject.
struct EraseRequest {
  std::vector<std::string> needles;
  std::function<bool(std::string_view document)> matches;
  // For the audit trail (never the subject's value itself).
  std::string actor;
  std::string subject_field;
  std::string subject_fingerprint;
};

// What the store's administration sees of it (app/'s StoreAdminApi): partitions, verification,
// legal holds, erasure and the audit trails. `Store` implements it (the contracts are documented
// there). All thread-safe.
class StoreAdmin {
 public:
  virtual ~StoreAdmin() = default;
  virtual Result<std::vector<PartitionInfo>> partitions() const = 0;
  virtual Result<VerifyReport> verify(const std::string& partition) const = 0;
  virtual Status set_hold(const Hold& hold, bool on, std::string_view actor) = 0;
  virtual Result<std::vector<Hold>> holds() const = 0;
  // Calls request.matches only for documents whose bytes contain one of request.needles.
  virtual Result<EraseReport> erase(const EraseRequest& request) = 0;
  virtual Result<std::vector<std::string>> read_trail(EpochMillis from_ms, EpochMillis to_ms,
                                                      std::string_view actor, uint64_t after_id,
                                                      size_t limit) const = 0;
  virtual Result<std::vector<std::string>> audit_trail(uint64_t from, size_t limit) const = 0;

 protected:
  StoreAdmin() = default;
  StoreAdmin(const StoreAdmin&) = default;
  StoreAdmin& operator=(const StoreAdmin&) = default;
};

}  // namespace verity::store
