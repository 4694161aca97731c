#include "verity/shippers/bulk_response.h"

#include <simdjson.h>

#include "verity/document/json_writer.h"

namespace verity::shippers {
namespace {

std::string bounded(std::string_view s, size_t max_bytes) {
  return std::string(document::utf8_prefix(s, max_bytes));
}

simdjson::dom::parser& answer_parser() {
  thread_local simdjson::dom::parser parser;
  return parser;
}

}  // namespace

bool parse_bulk_response(std::string_view body, size_t actions, std::vector<BulkItemOutcome>& out) {
  out.clear();
  simdjson::dom::element root;
  simdjson::dom::array items;
  if (answer_parser().parse(body.data(), body.size()).get(root) ||
      root["items"].get_array().get(items) || items.size() != actions) {
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
    if (!result["error"]["type"].get_string().get(sv)) r.type = bounded(sv, 200);
    if (!result["error"]["reason"].get_string().get(sv)) r.reason = bounded(sv, 500);
    r.verdict = classify_bulk_item(r.status);
  }
  return true;
}

bool parse_by_query_response(std::string_view body, ByQueryAnswer& out) {
  out = ByQueryAnswer();
  simdjson::dom::element root;
  simdjson::dom::array failures;
  if (answer_parser().parse(body.data(), body.size()).get(root) || !root.is_object() ||
      root["failures"].get_array().get(failures)) {
    return false;
  }
  bool timed_out = false;
  if (!root["timed_out"].get_bool().get(timed_out)) out.timed_out = timed_out;
  for (simdjson::dom::element f : failures) {
    if (out.failures.size() == 10'000) break;  // an answer lists at most one per document sent
    ByQueryAnswer::Failure& r = out.failures.emplace_back();
    std::string_view sv;
    if (!f["id"].get_string().get(sv)) r.id = bounded(sv, 512);
    int64_t status = 0;
    if (!f["status"].get_int64().get(status) && status >= 100 && status <= 599) {
      r.status = static_cast<int>(status);
    }
    if (!f["cause"]["type"].get_string().get(sv)) r.type = bounded(sv, 200);
    if (!f["cause"]["reason"].get_string().get(sv)) r.reason = bounded(sv, 500);
    // A failure without a status is not understood: retried.
    r.verdict = r.status == 0 ? Verdict::kRetry : classify_by_query_failure(r.status);
  }
  return true;
}

}  // namespace verity::shippers
