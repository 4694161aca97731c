#pragma once

#include <string>
#include <vector>

#include "verity/core/status.h"
#include "verity/shippers/es_config.h"
#include "verity/shippers/http_client.h"
#include "verity/store/retention.h"

namespace verity::shippers {

// One object `verity es setup` installs.
struct EsSetupObject {
  std::string kind;  // "ILM policy", "component template", "index template"
  std::string name;
  std::string path;  // e.g. /_ilm/policy/verity-predictions
  std::string body;  // JSON, with _meta.verity_hash set
  std::string hash;  // sha256 of the body without the hash: what makes setup idempotent
};

// In dependency order: the ILM policies (phases from the store's tiers: hot, warm at
// tiers.warm.after, cold at tiers.cold.after, delete at delete_after when set), the component
// templates (mappings/*.json), then the index templates for data streams and for dated indices,
// of predictions and of dead letters.
std::vector<EsSetupObject> es_setup_objects(const store::RetentionOptions& tiers);

struct EsSetupChange {
  std::string kind, name;
  std::string outcome;  // created | updated | unchanged
};

// Installs every object on the first of `es.hosts` that answers, with its credentials and TLS
// settings: absent -> PUT (created), present with another verity_hash -> PUT (updated), else
// unchanged. Errors: kUnavailable (no host reachable), kFailedPrecondition (a refused PUT, with
// Elasticsearch's answer).
// `client`: the HTTP seam (null: libcurl with the options' TLS settings).
Result<std::vector<EsSetupChange>> es_setup(const EsShipperOptions& es,
                                            const store::RetentionOptions& tiers,
                                            HttpClient* client = nullptr);

}  // namespace verity::shippers
