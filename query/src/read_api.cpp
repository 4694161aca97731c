#include "verity/query/read_api.h"

#include "verity/document/json_writer.h"
#include "verity/store/readers.h"

namespace verity::query {

HttpResponse ReadApi::get_prediction(const HttpRequest& req) const {
  static constexpr std::string_view kPrefix = "/v1/predictions/";
  const std::string_view id = std::string_view(req.path).substr(kPrefix.size());
  if (id.empty() || id.size() > 256) {
    return document::error_response(400, "invalid_request_id",
                                    "the request id in the path must be 1 to 256 bytes");
  }
  const std::vector<std::string> forms =
      id_forms_ ? id_forms_(id) : std::vector<std::string>{std::string(id)};
  Result<std::optional<store::StoredRecord>> prediction = std::optional<store::StoredRecord>();
  std::string_view stored_id = id;
  for (const auto& form : forms) {
    prediction = store_.get_prediction(form);
    if (!prediction) {
      return document::store_error_response(prediction.status());
    }
    if (prediction->has_value()) {
      stored_id = form;
      break;
    }
  }
  if (auditor_) {
    // The id as stored: when masking hashes request ids, the raw id never reaches the trail.
    ReadAccess a;
    a.endpoint = "get";
    a.returned = prediction->has_value() ? 1 : 0;
    a.request_ids.emplace_back(prediction->has_value() ? stored_id : forms.back());
    a.query = std::string(kPrefix) + a.request_ids.back();
    if (auto s = auditor_(req, a); !s) {
      return document::error_response(503, "read_audit_unavailable",
                                      "the read could not be recorded: " + s.message());
    }
  }
  if (!prediction->has_value()) {
    return document::error_response(404, "not_found",
                                    "no prediction is stored under this request id");
  }
  std::string body = (*prediction)->to_json();
  auto link = store_.get_chain_link((*prediction)->partition, (*prediction)->sequence);
  if (!link) return document::store_error_response(link.status());
  if (link->has_value()) {
    body.pop_back();  // '}'
    body += ",\"chain_link\":\"" + **link + "\"}";
  }
  auto label = store_.get_label(stored_id);
  if (!label) return document::store_error_response(label.status());
  if (label->has_value()) {
    body.pop_back();  // '}'
    body += ",\"label\":";
    body += (*label)->to_json();
    auto history = store_.get_label_history(stored_id);
    if (!history) return document::store_error_response(history.status());
    if (!history->empty()) {
      body += ",\"label_history\":[";
      for (size_t i = 0; i < history->size(); ++i) {
        if (i) body += ',';
        body += (*history)[i].to_json();
      }
      body += ']';
    }
    body += '}';
  }
  body += '\n';
  return HttpResponse::json(200, std::move(body));
}

}  // namespace verity::query
