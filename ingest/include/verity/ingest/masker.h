#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "verity/core/status.h"
#include "verity/ingest/masking_policy.h"

namespace verity::ingest {

// A compiled masking configuration: rule matchers, one vectorscan database for every detector, and
// the HMAC key. Immutable and thread-safe; each thread uses its own Masker::Scratch.
class Masker {
 public:
  // A compiled policy (one per model with overrides, plus the default).
  struct Policy;
  // Per-thread state: vectorscan scratch, match buffers, HMAC contexts, counters.
  class Scratch;
  struct ScratchDeleter {
    void operator()(Scratch* s) const;
  };
  using ScratchPtr = std::unique_ptr<Scratch, ScratchDeleter>;

  // Compiles `config` with `key` (raw key bytes). Errors: kInvalidArgument naming the detector or
  // rule (a pattern vectorscan rejects, an action a detector cannot take).
  // `hashed_request_ids`: a rule hashes request ids (rules_hash_request_ids), so lookups hash too.
  static Result<std::shared_ptr<const Masker>> create(const MaskingConfig& config, std::string key,
                                                      bool hashed_request_ids = false);
  ~Masker();

  const Policy& default_policy() const;
  // The policy of `model`, or the default.
  const Policy& policy_for(std::string_view model) const;
  // "mv1-<16 hex>": a digest of the policy's normalised form and the key's fingerprint.
  static const std::string& version(const Policy& p);
  ScratchPtr make_scratch() const;

  // "hmac:<24 hex>" of `text`.
  std::string hmac_token(std::string_view text) const;
  // The forms a request id as sent may be stored under: itself, and its HMAC token when a rule
  // hashes request ids (rules_hash_request_ids). Lookups, erasures and labels try them in order.
  std::vector<std::string> request_id_forms(std::string_view id) const;

  struct Impl;
  const Impl& impl() const { return *impl_; }

 private:
  explicit Masker(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace verity::ingest
