#include "verity/app/store_admin.h"

#include <algorithm>
#include <charconv>
#include <limits>

#include <simdjson.h>
#include <spdlog/spdlog.h>

#include "verity/app/auth.h"
#include "verity/document/json_value.h"
#include "verity/document/json_writer.h"
#include "verity/ingest/masker.h"
#include "verity/query/kql.h"
#include "verity/store/admin.h"

namespace verity::app {
namespace {

// One string member of a JSON object body; nullopt (with `why`) when absent or not a string.
std::optional<std::string> body_string(const std::string& body, std::string_view key,
                                       std::string& why) {
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  if (parser.parse(body).get(root) || !root.is_object()) {
    why = "the body must be a JSON object";
    return std::nullopt;
  }
  simdjson::dom::element v;
  if (root.at_key(key).get(v)) return std::nullopt;
  std::string_view s;
  if (v.get_string().get(s)) {
    why = "'" + std::string(key) + "' must be a string";
    return std::nullopt;
  }
  return std::string(s);
}

// A name from a request that is written to the audit trail and the log: 1..256 bytes of UTF-8
// without control characters (a raw 0xFF made the audit trail invalid JSON for good; a '\n'
// forged a log line).
bool valid_name(std::string_view s) {
  if (s.empty() || s.size() > 256 || !document::is_valid_utf8(s)) return false;
  return std::none_of(s.begin(), s.end(),
                      [](char c) { return static_cast<unsigned char>(c) < 0x20 || c == 0x7f; });
}

uint64_t query_number(const HttpRequest& req, std::string_view name, uint64_t fallback) {
  const std::string_view v = req.query_param(name);
  uint64_t n = 0;
  auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
  return ec == std::errc() && p == v.data() + v.size() && !v.empty() ? n : fallback;
}

}  // namespace

HttpResponse StoreAdminApi::partitions(const HttpRequest&) const {
  auto parts = store_.partitions();
  if (!parts) return document::store_error_response(parts.status());
  std::string out = "{\"partitions\":[";
  for (size_t i = 0; i < parts->size(); ++i) {
    if (i) out += ',';
    out += (*parts)[i].to_json();
  }
  out += "]}\n";
  return HttpResponse::json(200, std::move(out));
}

HttpResponse StoreAdminApi::verify(const HttpRequest& req) const {
  auto report = store_.verify(std::string(req.query_param("partition")));
  if (!report) return document::store_error_response(report.status());
  if (!report->ok) spdlog::error("verify: a hash chain is broken: {}", report->to_json());
  return HttpResponse::json(200, report->to_json() + "\n");
}

HttpResponse StoreAdminApi::holds(const HttpRequest&) const {
  auto holds = store_.holds();
  if (!holds) return document::store_error_response(holds.status());
  std::string out = "{\"holds\":[";
  for (size_t i = 0; i < holds->size(); ++i) {
    if (i) out += ',';
    document::append_json_string(out, (*holds)[i].to_string());
  }
  out += "]}\n";
  return HttpResponse::json(200, std::move(out));
}

HttpResponse StoreAdminApi::set_hold(const HttpRequest& req) const {
  const bool on = req.method == "POST";
  std::string why;
  store::Hold hold;
  std::optional<std::string> model, partition;
  if (on) {
    model = body_string(req.body, "model", why);
    if (why.empty()) partition = body_string(req.body, "partition", why);
  } else {
    if (!req.query_param("model").empty()) model = std::string(req.query_param("model"));
    if (!req.query_param("partition").empty()) {
      partition = std::string(req.query_param("partition"));
    }
  }
  if (!why.empty()) return document::error_response(400, "invalid_request", why);
  if (model.has_value() == partition.has_value()) {
    return document::error_response(400, "invalid_request",
                                    "name exactly one of 'model' or 'partition'");
  }
  hold.kind = model ? store::Hold::Kind::kModel : store::Hold::Kind::kPartition;
  hold.target = model ? *model : *partition;
  if (!valid_name(hold.target)) {
    return document::error_response(
        400, "invalid_request",
        std::string(model ? "'model'" : "'partition'") +
            " must be 1 to 256 bytes of UTF-8 without control characters");
  }
  if (auto s = store_.set_hold(hold, on, auth_.principal(req)); !s)
    return document::store_error_response(s);
  spdlog::info("hold {} {} by {}", hold.to_string(), on ? "set" : "cleared", auth_.principal(req));
  std::string out = "{\"hold\":";
  document::append_json_string(out, hold.to_string());
  out += std::string(",\"set\":") + (on ? "true" : "false") + "}\n";
  return HttpResponse::json(200, std::move(out));
}

HttpResponse StoreAdminApi::erase(const HttpRequest& req) const {
  std::string why;
  auto subject = body_string(req.body, "subject", why);
  if (!subject) {
    return document::error_response(400, "invalid_request",
                                    why.empty() ? "the body needs a 'subject' string" : why);
  }
  if (subject->empty() || subject->size() > 4096) {
    return document::error_response(400, "invalid_request", "'subject' must be 1 to 4096 bytes");
  }
  // The forms the subject may be stored in: as sent (JSON-escaped in the document), or as the
  // HMAC token masking's `hash` action writes.
  std::vector<std::string> forms{*subject};
  if (masker_) forms.push_back(masker_->hmac_token(*subject));
  store::EraseRequest er;
  for (const auto& f : forms) {
    std::string quoted;
    document::append_json_string(quoted, f);
    er.needles.push_back(quoted.substr(1, quoted.size() - 2));
  }
  // Documents are stored as sent, and JSON lets a sender spell any character as \uXXXX (Python's
  // json.dumps writes every non-ASCII character so by default) and "/" as \/: the subject's bytes
  // above are then not in the document. The needles are the spellings JSON's writers use; a
  // document with another escape is parsed (matches() compares the unescaped value) whatever its
  // bytes hold. The mandatory escapes (\" \\ \b \f \n \r \t) have one spelling besides \u.
  er.needles.push_back("\\u");
  er.needles.push_back("\\/");
  const std::string pointer = subject_.text;
  er.matches = [pointer, forms](std::string_view document) {
    thread_local simdjson::dom::parser parser;
    thread_local std::string scratch;
    simdjson::dom::element root, v;
    // parse_document: a document holding an integer beyond 64 bits is a document too (a plain
    // parse fails on it, and the subject's record would be passed over).
    if (document::parse_document(parser, document, scratch, root) != simdjson::SUCCESS) {
      return false;
    }
    if (root.at_pointer(pointer).get(v)) return false;
    std::string_view s;
    if (!v.get_string().get(s)) {
      for (const auto& f : forms) {
        if (s == f) return true;
      }
      return false;
    }
    if (v.is_number()) {  // a numeric subject id: compare its JSON text
      const std::string text = simdjson::minify(v);
      return text == forms.front();
    }
    return false;
  };
  er.actor = auth_.principal(req);
  er.subject_field = pointer;
  // The audit trail names the subject only by a keyed digest, never by value.
  er.subject_fingerprint =
      masker_ ? masker_->hmac_token(*subject) : "sha256:" + sha256_hex(*subject).substr(0, 24);
  auto report = store_.erase(er);
  if (!report) return document::store_error_response(report.status());
  spdlog::info("erase: {} predictions, {} labels, {} dead-letter documents erased by {} (audit {})",
               report->predictions, report->labels, report->dead_letters, er.actor,
               report->audit_id);
  return HttpResponse::json(200, report->to_json() + "\n");
}

HttpResponse StoreAdminApi::audit(const HttpRequest& req) const {
  const uint64_t from = query_number(req, "from", 0);
  const uint64_t limit = std::min<uint64_t>(query_number(req, "limit", 1000), 10000);
  auto entries = store_.audit_trail(from, limit);
  if (!entries) return document::store_error_response(entries.status());
  std::string out = "{\"entries\":[";
  for (size_t i = 0; i < entries->size(); ++i) {
    if (i) out += ',';
    out += (*entries)[i];
  }
  out += "]}\n";
  return HttpResponse::json(200, std::move(out));
}

HttpResponse StoreAdminApi::read_audit(const HttpRequest& req, EpochMillis now) const {
  EpochMillis from = now - 86'400'000, to = std::numeric_limits<EpochMillis>::max();
  for (auto [name, out] : {std::pair{"from", &from}, std::pair{"to", &to}}) {
    const std::string_view text = req.query_param(name);
    if (text.empty()) continue;
    auto t = query::kql::parse_time(text, now);
    if (!t) {
      return document::error_response(400, "invalid_time",
                                      std::string(name) + ": " + t.status().message());
    }
    *out = *t;
  }
  const uint64_t after = query_number(req, "after", 0);
  const uint64_t limit = std::clamp<uint64_t>(query_number(req, "limit", 1000), 1, 10000);
  auto entries = store_.read_trail(from, to, req.query_param("actor"), after, limit);
  if (!entries) return document::store_error_response(entries.status());
  std::string out = "{\"entries\":[";
  uint64_t last = 0;
  simdjson::dom::parser parser;
  for (size_t i = 0; i < entries->size(); ++i) {
    if (i) out += ',';
    out += (*entries)[i];
    simdjson::dom::element e;
    uint64_t id = 0;
    if (!parser.parse((*entries)[i]).get(e) && !e["id"].get_uint64().get(id)) last = id;
  }
  out += "],\"next_after\":";
  out += entries->size() == limit ? std::to_string(last) : "null";
  out += "}\n";
  return HttpResponse::json(200, std::move(out));
}

}  // namespace verity::app
