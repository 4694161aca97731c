#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "verity/core/status.h"
#include "verity/core/units.h"
#include "verity/shippers/http_client.h"

namespace verity::shippers {

// Where `verity kibana setup` imports Verity's dashboards.
struct KibanaOptions {
  std::string url;                 // http(s)://host:5601, with Kibana's base path when it has one
  std::string space;               // "": the default space; else a space id (a-z, 0-9, _ and -)
  std::string username, password;  // basic auth, or
  std::string api_key;             // Authorization: ApiKey <base64 id:key>
  HttpTls tls;
  Duration timeout{60'000};
};

// kibana/verity.ndjson (written by scripts/kibana-objects), embedded at build time: data views
// over the predictions and the dead letters, saved searches and the dashboards, saved objects of
// Kibana 8.8 and later.
std::string_view kibana_saved_objects();

struct KibanaSetupChange {
  std::string type, id, title;
  std::string outcome;  // created | updated
};

// Imports the saved objects with Kibana's saved objects import API (POST
// [/s/<space>]/api/saved_objects/_import?overwrite=true, multipart/form-data with the file as
// `file`, `kbn-xsrf`), so running it again updates what it created. Errors: kInvalidArgument (a
// bad URL or space id), kUnavailable (Kibana cannot be reached), kFailedPrecondition (Kibana
// refused the request, or some objects: each named with Kibana's error type, e.g.
// "dashboard verity-model-quality ([Verity] Model quality): missing_references index-pattern:x").
// `client`: the HTTP seam (null: libcurl with the options' TLS settings).
Result<std::vector<KibanaSetupChange>> kibana_setup(const KibanaOptions& options,
                                                    HttpClient* client = nullptr);

}  // namespace verity::shippers
