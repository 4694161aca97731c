#include "verity/shippers/bulk_response.h"

#include <simdjson.h>

namespace verity::shippers {

bool parse_bulk_response(std::string_view body, size_t actions, std::vector<BulkItemOutcome>& out) {
  out.clear();
  thread_local simdjson::dom::parser parser;
  simdjson::dom::element root;
  simdjson::dom::array items;
  if (parser.parse(body.data(), body.size()).get(root) || root["items"].get_array().get(items) ||
      items.size() != actions) {
    return false;
  }
  out.reserve(actions);
  for (simdjson::dom::element item : items) {
    BulkItemOutcome& r = out.emplace_back();
    simdjson::dom::object obj;
    if (item.get_object().get(obj) || obj.size() != 1) continue;  // retried
    simdjson::dom::element result = obj.begin().value();
    int64_t status = 0;
    if (result["status"].get_int64().get(status) || status < 100 || status > 599) continue;
    r.status = static_cast<int>(status);
    std::string_view sv;
    if (!result["error"]["type"].get_string().get(sv)) r.type = std::string(sv.substr(0, 200));
    if (!result["error"]["reason"].get_string().get(sv)) r.reason = std::string(sv.substr(0, 500));
    if ((status >= 200 && status < 300) || status == 409) {
      r.kind = BulkItemOutcome::Kind::kDelivered;
    } else if (status == 429 || status >= 500) {
      r.kind = BulkItemOutcome::Kind::kRetry;
    } else if (status >= 400) {
      r.kind = BulkItemOutcome::Kind::kDead;
    }
  }
  return true;
}

}  // namespace verity::shippers
