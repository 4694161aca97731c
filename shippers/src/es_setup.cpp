#include "verity/shippers/es_setup.h"

#include <memory>

#include "es_setup_files.h"
#include "verity/core/sha256.h"
#include "verity/document/json_writer.h"

namespace verity::shippers {
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
  out.push_back(with_hash("component template", "verity-deadletters-mappings",
                          "/_component_template/verity-deadletters-mappings",
                          kEsDeadLettersMappings));
  out.push_back(with_hash("index template", "verity-predictions",
                          "/_index_template/verity-predictions", kEsIndexTemplate));
  out.push_back(with_hash("index template", "verity-predictions-dated",
                          "/_index_template/verity-predictions-dated", kEsIndexTemplateDated));
  // Dead letters (dead_letter_encoder.h): the settings and ILM policies of the predictions.
  out.push_back(with_hash("index template", "verity-deadletters",
                          "/_index_template/verity-deadletters", kEsDeadLettersTemplate));
  out.push_back(with_hash("index template", "verity-deadletters-dated",
                          "/_index_template/verity-deadletters-dated",
                          kEsDeadLettersTemplateDated));
  return out;
}

Result<std::vector<EsSetupChange>> es_setup(const EsShipperOptions& es,
                                            const store::RetentionOptions& tiers,
                                            HttpClient* client) {
  if (es.hosts.empty()) {
    return Status::invalid_argument(
        "no Elasticsearch host: set outputs.elasticsearch.hosts or pass --es-url");
  }
  std::unique_ptr<HttpClient> own;
  if (client == nullptr) {
    own = std::make_unique<CurlHttpClient>(
        HttpTls{es.ca_file, es.verify_certificate, es.verify_hostname});
    client = own.get();
  }
  std::vector<std::string> headers = {"Content-Type: application/json"};
  if (!es.api_key.empty()) headers.push_back("Authorization: ApiKey " + es.api_key);
  if (!es.username.empty()) headers.push_back(basic_authorization(es.username, es.password));
  auto request = [&](const char* method, const std::string& url, const std::string& body) {
    HttpCall call;
    call.method = method;
    call.url = url;
    call.body = body;
    call.headers = headers;
    call.timeout = es.timeout;
    return client->send(call);
  };

  std::string host, unreachable;
  for (std::string h : es.hosts) {
    while (!h.empty() && h.back() == '/') h.pop_back();
    auto r = request("GET", h + "/", "");
    if (r.is_ok()) {
      host = h;
      break;
    }
    unreachable += (unreachable.empty() ? "" : "; ") + r.status().message();
  }
  if (host.empty()) return Status::unavailable("no Elasticsearch host answers: " + unreachable);

  std::vector<EsSetupChange> changes;
  for (const auto& o : es_setup_objects(tiers)) {
    auto got = request("GET", host + o.path, "");
    if (!got) return got.status();
    std::string outcome;
    if (got->status == 404) {
      outcome = "created";
    } else if (got->status == 200) {
      outcome = got->body.find(o.hash) != std::string::npos ? "unchanged" : "updated";
    } else {
      return Status::failed_precondition("GET " + o.path + ": HTTP " + std::to_string(got->status) +
                                         ": " + std::string(document::utf8_prefix(got->body, 500)));
    }
    if (outcome != "unchanged") {
      auto put = request("PUT", host + o.path, o.body);
      if (!put) return put.status();
      if (put->status / 100 != 2) {
        return Status::failed_precondition("PUT " + o.path + ": HTTP " +
                                           std::to_string(put->status) + ": " +
                                           std::string(document::utf8_prefix(put->body, 500)));
      }
    }
    changes.push_back({o.kind, o.name, outcome});
  }
  return changes;
}

}  // namespace verity::shippers
