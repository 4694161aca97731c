#include "verity/app/es_setup.h"

#include <openssl/evp.h>

#include "es_setup_files.h"
#include "verity/app/http_client.h"
#include "verity/core/sha256.h"

namespace verity::app {
namespace {

// Puts "verity_hash": sha256(body) first into the body's "_meta" object (every object has one).
EsSetupObject with_hash(std::string kind, std::string name, std::string path, std::string body) {
  EsSetupObject o{std::move(kind), std::move(name), std::move(path), std::move(body), ""};
  o.hash = sha256_hex(o.body);
  const size_t meta = o.body.find("\"_meta\"");
  const size_t brace = o.body.find('{', meta);
  o.body.insert(brace + 1, "\"verity_hash\":\"" + o.hash + "\",");
  return o;
}

std::string days(uint32_t d) { return std::to_string(d) + "d"; }

// Phases that mirror the store's tiers. `rollover`: the data stream policy rolls over daily;
// dated indices are one a day already.
std::string ilm_policy(const store::RetentionOptions& r, bool rollover) {
  std::string hot =
      rollover ? R"("rollover":{"max_age":"1d","max_primary_shard_size":"50gb"},)" : "";
  std::string p =
      R"({"policy":{"phases":{"hot":{"min_age":"0ms","actions":{)" + hot +
      R"("set_priority":{"priority":100}}},"warm":{"min_age":")" + days(r.warm_after_days) +
      R"(","actions":{"forcemerge":{"max_num_segments":1},"set_priority":{"priority":50}}},)"
      R"("cold":{"min_age":")" +
      days(r.cold_after_days) + R"(","actions":{"set_priority":{"priority":0}}})";
  if (r.delete_after_days > 0) {
    p += R"(,"delete":{"min_age":")" + days(r.delete_after_days) + R"(","actions":{"delete":{}}})";
  }
  p +=
      R"j(},"_meta":{"description":"Mirrors Verity's store tiers (store.tiers, store.delete_after)","managed_by":"verity"}}})j";
  return p;
}

std::string basic(const std::string& user, const std::string& password) {
  const std::string plain = user + ":" + password;
  std::string out(4 * ((plain.size() + 2) / 3) + 1, '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(plain.data()),
                                static_cast<int>(plain.size()));
  out.resize(static_cast<size_t>(n));
  return "Authorization: Basic " + out;
}

}  // namespace

std::vector<EsSetupObject> es_setup_objects(const store::RetentionOptions& tiers) {
  std::vector<EsSetupObject> out;
  out.push_back(with_hash("ILM policy", "verity-predictions", "/_ilm/policy/verity-predictions",
                          ilm_policy(tiers, true)));
  out.push_back(with_hash("ILM policy", "verity-predictions-dated",
                          "/_ilm/policy/verity-predictions-dated", ilm_policy(tiers, false)));
  out.push_back(with_hash("component template", "verity-predictions-settings",
                          "/_component_template/verity-predictions-settings",
                          kEsComponentSettings));
  out.push_back(with_hash("component template", "verity-predictions-mappings",
                          "/_component_template/verity-predictions-mappings",
                          kEsComponentMappings));
  out.push_back(with_hash("index template", "verity-predictions",
                          "/_index_template/verity-predictions", kEsIndexTemplate));
  out.push_back(with_hash("index template", "verity-predictions-dated",
                          "/_index_template/verity-predictions-dated", kEsIndexTemplateDated));
  return out;
}

Result<std::vector<EsSetupChange>> es_setup(const shippers::EsShipperOptions& es,
                                            const store::RetentionOptions& tiers) {
  if (es.hosts.empty()) {
    return Status::invalid_argument(
        "no Elasticsearch host: set outputs.elasticsearch.hosts or pass --es-url");
  }
  std::vector<std::string> headers = {"Content-Type: application/json"};
  if (!es.api_key.empty()) headers.push_back("Authorization: ApiKey " + es.api_key);
  if (!es.username.empty()) headers.push_back(basic(es.username, es.password));
  HttpTls tls{es.ca_file, es.verify_certificate, es.verify_hostname};
  const long timeout = static_cast<long>(es.timeout.count());

  std::string host, unreachable;
  for (std::string h : es.hosts) {
    while (!h.empty() && h.back() == '/') h.pop_back();
    auto r = http_request("GET", h + "/", "", headers, timeout, &tls);
    if (r.is_ok()) {
      host = h;
      break;
    }
    unreachable += (unreachable.empty() ? "" : "; ") + r.status().message();
  }
  if (host.empty()) return Status::unavailable("no Elasticsearch host answers: " + unreachable);

  std::vector<EsSetupChange> changes;
  for (const auto& o : es_setup_objects(tiers)) {
    auto got = http_request("GET", host + o.path, "", headers, timeout, &tls);
    if (!got) return got.status();
    std::string outcome;
    if (got->status == 404) {
      outcome = "created";
    } else if (got->status == 200) {
      outcome = got->body.find(o.hash) != std::string::npos ? "unchanged" : "updated";
    } else {
      return Status::failed_precondition("GET " + o.path + ": HTTP " + std::to_string(got->status) +
                                         ": " + got->body.substr(0, 500));
    }
    if (outcome != "unchanged") {
      auto put = http_request("PUT", host + o.path, o.body, headers, timeout, &tls);
      if (!put) return put.status();
      if (put->status / 100 != 2) {
        return Status::failed_precondition("PUT " + o.path + ": HTTP " +
                                           std::to_string(put->status) + ": " +
                                           put->body.substr(0, 500));
      }
    }
    changes.push_back({o.kind, o.name, outcome});
  }
  return changes;
}

}  // namespace verity::app
