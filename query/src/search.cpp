// GET /v1/predictions: search and export of stored predictions (search.h).
#include "verity/query/search.h"

#include <simdjson.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <limits>
#include <optional>

#include "verity/core/time_format.h"
#include "verity/document/field_mapping.h"
#include "verity/document/json_value.h"
#include "verity/document/json_writer.h"
#include "verity/query/kql.h"
#include "verity/query/search_indexer.h"
#include "verity/store/readers.h"

namespace verity::query {
namespace {

using simdjson::dom::element;
using simdjson::dom::element_type;

constexpr int kMaxDepth = 64;

// Verity's own fields, by every spelling a query may use (Elasticsearch's copy nests them under
// "verity." and the label under "label.").
enum class Own {
  kNone,
  kRequestId,
  kModel,
  kVersion,
  kInput,
  kMaskingVersion,
  kPartition,
  kSequence,
  kTimestamp,
  kIngestTime,
  kErased,
  kLabel,
  kLabelCorrect,
  kLabelError,
  kLabelTime,
  kDocument,
};

Own own_field(std::string_view path) {
  if (path.substr(0, 7) == "verity.") path.remove_prefix(7);
  static const std::pair<std::string_view, Own> kFields[] = {
      {"request_id", Own::kRequestId},
      {"model", Own::kModel},
      {"version", Own::kVersion},
      {"input", Own::kInput},
      {"masking_version", Own::kMaskingVersion},
      {"partition", Own::kPartition},
      {"sequence", Own::kSequence},
      {"@timestamp", Own::kTimestamp},
      {"ingest_time", Own::kIngestTime},
      {"erased", Own::kErased},
      {"label", Own::kLabel},
      {"label.ground_truth", Own::kLabel},
      {"label.correct", Own::kLabelCorrect},
      {"label.error", Own::kLabelError},
      {"label_time", Own::kLabelTime},
      {"label.label_time", Own::kLabelTime},
      {"document", Own::kDocument},
  };
  for (const auto& [name, f] : kFields) {
    if (path == name) return f;
  }
  return Own::kNone;
}

bool needs_label(std::string_view path) {
  const Own f = own_field(path);
  return f == Own::kLabel || f == Own::kLabelCorrect || f == Own::kLabelError ||
         f == Own::kLabelTime;
}

// Whether `e` holds a value that is not null somewhere below it.
bool has_value_below(element e, int depth) {
  if (depth >= kMaxDepth) return false;
  if (e.is_null()) return false;
  if (simdjson::dom::array a; !e.get_array().get(a)) {
    for (element x : a) {
      if (has_value_below(x, depth + 1)) return true;
    }
    return false;
  }
  if (simdjson::dom::object o; !e.get_object().get(o)) {
    for (auto field : o) {
      if (has_value_below(field.value, depth + 1)) return true;
    }
    return false;
  }
  return true;
}

// An integer of more than 64 bits: document::parse_document turned it into a string of its digits
// to parse the document; `original` (the stored text, "" when it held no such integer) says
// whether these digits stood there as a number, unquoted.
bool big_integer_in(std::string_view original, std::string_view digits) {
  if (original.empty() || !document::is_big_integer(digits)) return false;
  for (size_t at = original.find(digits); at != std::string_view::npos;
       at = original.find(digits, at + 1)) {
    const char before = at > 0 ? original[at - 1] : ' ';
    const size_t end = at + digits.size();
    const char after = end < original.size() ? original[end] : ' ';
    const bool digit_before = before >= '0' && before <= '9';
    const bool digit_after = after >= '0' && after <= '9';
    if (before != '"' && !digit_before && before != '-' && after != '"' && !digit_after &&
        after != '.' && after != 'e' && after != 'E') {
      return true;
    }
  }
  return false;
}

// Appends the scalars of `e` (descending into arrays) to `out`; an object with a value below it is
// a kObject value (it exists, and matches nothing else).
void add_scalars(element e, std::vector<kql::Value>& out, int depth, std::string_view original) {
  kql::Value v;
  switch (e.type()) {
    case element_type::ARRAY:
      if (depth >= kMaxDepth) return;
      if (simdjson::dom::array a; !e.get_array().get(a)) {
        for (element x : a) add_scalars(x, out, depth + 1, original);
      }
      return;
    case element_type::OBJECT:
      if (!has_value_below(e, depth)) return;
      v.type = kql::Value::Type::kObject;
      break;
    case element_type::STRING:
      v.type = kql::Value::Type::kString;
      v.text = e.get_string().value_unsafe();
      if (big_integer_in(original, v.text)) {
        v.type = kql::Value::Type::kNumber;
        double d = 0;
        if (!document::finite_number(v.text, d)) return;
        v.number = d;
      }
      break;
    case element_type::INT64:
      v.type = kql::Value::Type::kNumber;
      v.number = static_cast<double>(e.get_int64().value_unsafe());
      break;
    case element_type::UINT64:
      v.type = kql::Value::Type::kNumber;
      v.number = static_cast<double>(e.get_uint64().value_unsafe());
      break;
    case element_type::DOUBLE:
      v.type = kql::Value::Type::kNumber;
      v.number = e.get_double().value_unsafe();
      break;
    case element_type::BOOL:
      v.type = kql::Value::Type::kBool;
      v.boolean = e.get_bool().value_unsafe();
      break;
    case element_type::NULL_VALUE:
      v.type = kql::Value::Type::kNull;
      break;
  }
  out.push_back(v);
}

// The values at a dotted path. A member whose name holds dots matches as the path's next
// components (Elasticsearch maps {"a.b":1} and {"a":{"b":1}} alike); arrays are descended into.
void walk(element e, std::string_view path, std::vector<kql::Value>& out, bool& exists, int depth,
          std::string_view original) {
  if (depth >= kMaxDepth) return;
  if (path.empty()) {
    exists = true;
    add_scalars(e, out, depth, original);
    return;
  }
  if (e.is_array()) {
    if (simdjson::dom::array a; !e.get_array().get(a)) {
      for (element x : a) walk(x, path, out, exists, depth + 1, original);
    }
    return;
  }
  simdjson::dom::object o;
  if (e.get_object().get(o)) return;
  for (auto field : o) {
    const std::string_view key = field.key;
    if (path == key) {
      walk(field.value, {}, out, exists, depth + 1, original);
    } else if (path.size() > key.size() && path.substr(0, key.size()) == key &&
               path[key.size()] == '.') {
      walk(field.value, path.substr(key.size() + 1), out, exists, depth + 1, original);
    }
  }
}

// `confidence` and `score`: the model's mapped field, for documents without such a member.
std::optional<element> mapped_element(element doc, const document::FieldMapping& mapping,
                                      std::string_view path) {
  document::Field f;
  if (path == "confidence") {
    f = document::Field::kConfidence;
  } else if (path == "score") {
    f = document::Field::kScore;
  } else {
    return std::nullopt;
  }
  for (const auto& ptr : mapping.pointers(f)) {
    element v;
    if (!doc.at_pointer(ptr.text).get(v)) return v;
  }
  return std::nullopt;
}

// The values of a document path (`document.` already removed), as a query reads them; false when
// the path names nothing. `big_source`: the document's text when it holds integers beyond 64 bits.
bool document_values(element doc, std::string_view path, const document::FieldMapping& mapping,
                     std::string_view big_source, std::vector<kql::Value>& out) {
  bool exists = false;
  walk(doc, path, out, exists, 0, big_source);
  if (!exists) {
    if (auto e = mapped_element(doc, mapping, path)) {
      add_scalars(*e, out, 0, big_source);
      return true;
    }
  }
  return exists;
}

// A query path as a document path: nullopt for Verity's own fields and the label's.
std::optional<std::string_view> document_path(std::string_view path) {
  if (own_field(path) != Own::kNone) return std::nullopt;
  if (path.substr(0, 9) == "document.") path.remove_prefix(9);
  return path;
}

// Parsed documents, one pair of parsers per thread (the prediction's and its label's).
struct Parsers {
  simdjson::dom::parser doc, label;
  std::string doc_scratch, label_scratch;
};
Parsers& parsers() {
  thread_local Parsers p;
  return p;
}

// One stored prediction as a query sees it.
class SearchRecord final : public kql::Record {
 public:
  SearchRecord(const store::StoredRecord& r, const std::optional<store::StoredRecord>* label,
               const document::FieldMapping& mapping)
      : r_(r), label_(label), mapping_(mapping) {
    Parsers& p = parsers();
    p.doc_scratch.clear();
    doc_ok_ = !r.erased &&
              document::parse_document(p.doc, r.document, p.doc_scratch, doc_) == simdjson::SUCCESS;
    if (!p.doc_scratch.empty()) big_source_ = r.document;  // it holds integers beyond 64 bits
    if (label_ != nullptr && label_->has_value() && doc_ok_ &&
        document::parse_document(p.label, (*label_)->document, p.label_scratch, label_doc_) ==
            simdjson::SUCCESS) {
      label_ok_ = true;
      truth_ =
          document::first_value(label_doc_, mapping.pointers(document::Field::kGroundTruth), false);
      outcome_ = document::label_outcome(document::predicted_value(doc_, mapping), truth_);
      for (const auto& ptr : mapping.pointers(document::Field::kGroundTruth)) {
        element v;
        if (!label_doc_.at_pointer(ptr.text).get(v) && !v.is_null()) {
          truth_element_ = v;
          has_truth_element_ = true;
          break;
        }
      }
    }
  }

  bool values(std::string_view path, std::vector<kql::Value>& out) const override {
    auto text = [&out](std::string_view s) {
      kql::Value v;
      v.type = kql::Value::Type::kString;
      v.text = s;
      out.push_back(v);
      return true;
    };
    auto date = [&out](EpochMillis ms) {
      kql::Value v;
      v.type = kql::Value::Type::kNumber;
      v.number = static_cast<double>(ms);
      v.date = true;
      out.push_back(v);
      return true;
    };
    switch (own_field(path)) {
      case Own::kRequestId:
        return text(r_.request_id);
      case Own::kModel:
        return text(r_.model_name);
      case Own::kVersion:
        return text(r_.model_version);
      case Own::kInput:
        return text(r_.input);
      case Own::kMaskingVersion:
        return text(r_.masking_version);
      case Own::kPartition:
        return text(r_.partition);
      case Own::kSequence: {
        kql::Value v;
        v.type = kql::Value::Type::kNumber;
        v.number = static_cast<double>(r_.sequence);
        out.push_back(v);
        return true;
      }
      case Own::kTimestamp:
        return date(r_.timestamp_ms);
      case Own::kIngestTime:
        return date(r_.ingest_time_ms);
      case Own::kErased: {
        kql::Value v;
        v.type = kql::Value::Type::kBool;
        v.boolean = r_.erased;
        out.push_back(v);
        return true;
      }
      case Own::kLabel:
        if (!label_ok_) return false;
        if (has_truth_element_) add_scalars(truth_element_, out, 0, {});
        return has_truth_element_;
      case Own::kLabelCorrect: {
        if (!label_ok_ || !outcome_.has_correct) return false;
        kql::Value v;
        v.type = kql::Value::Type::kBool;
        v.boolean = outcome_.correct;
        out.push_back(v);
        return true;
      }
      case Own::kLabelError: {
        if (!label_ok_ || !outcome_.has_error) return false;
        kql::Value v;
        v.type = kql::Value::Type::kNumber;
        v.number = outcome_.error;
        out.push_back(v);
        return true;
      }
      case Own::kLabelTime:
        if (!label_ok_) return false;
        return date((*label_)->timestamp_ms);
      case Own::kDocument:
        if (doc_ok_) add_scalars(doc_, out, 0, {});  // an object: exists when a value is in it
        return doc_ok_;
      case Own::kNone:
        break;
    }
    if (!doc_ok_) return false;
    if (path.substr(0, 9) == "document.") path.remove_prefix(9);
    return document_values(doc_, path, mapping_, big_source_, out);
  }

  // The JSON of a field for a projection (`fields=`): one value, an array of several, or null.
  void write_field(document::JsonWriter& w, std::string_view path) const {
    switch (own_field(path)) {
      case Own::kTimestamp:
        w.string(format_rfc3339(r_.timestamp_ms));
        return;
      case Own::kIngestTime:
        w.string(format_rfc3339(r_.ingest_time_ms));
        return;
      case Own::kLabelTime:
        if (label_ok_) {
          w.string(format_rfc3339((*label_)->timestamp_ms));
        } else {
          w.null();
        }
        return;
      case Own::kLabel:
        if (has_truth_element_) {
          w.raw(simdjson::minify(truth_element_));
        } else {
          w.null();
        }
        return;
      case Own::kDocument:
        if (doc_ok_) {
          w.raw(simdjson::minify(doc_));
        } else {
          w.null();
        }
        return;
      case Own::kNone:
        break;
      default: {
        std::vector<kql::Value> vs;
        values(path, vs);
        write_values(w, vs);
        return;
      }
    }
    if (!doc_ok_) {
      w.null();
      return;
    }
    // Document paths keep their JSON (objects and arrays too).
    std::string_view p = path.substr(0, 9) == "document." ? path.substr(9) : path;
    std::vector<element> found;
    collect(doc_, p, found, 0);
    if (found.empty()) {
      if (auto e = mapped(p)) found.push_back(*e);
    }
    if (found.empty()) {
      w.null();
    } else if (found.size() == 1) {
      write_element(w, found[0]);
    } else {
      w.begin_array();
      for (element e : found) write_element(w, e);
      w.end_array();
    }
  }

 private:
  // A document value as JSON; an integer beyond 64 bits as the number it is.
  void write_element(document::JsonWriter& w, element e) const {
    std::string_view s;
    if (!e.get_string().get(s) && big_integer_in(big_source_, s)) {
      w.raw(s);
    } else {
      w.raw(simdjson::minify(e));
    }
  }

  static void write_values(document::JsonWriter& w, const std::vector<kql::Value>& vs) {
    auto one = [&w](const kql::Value& v) {
      switch (v.type) {
        case kql::Value::Type::kNull:
          w.null();
          break;
        case kql::Value::Type::kBool:
          w.boolean(v.boolean);
          break;
        case kql::Value::Type::kNumber:
          w.number(v.number);
          break;
        case kql::Value::Type::kString:
          w.string(v.text);
          break;
        case kql::Value::Type::kObject:
          w.null();
          break;
      }
    };
    if (vs.empty()) {
      w.null();
    } else if (vs.size() == 1) {
      one(vs[0]);
    } else {
      w.begin_array();
      for (const auto& v : vs) one(v);
      w.end_array();
    }
  }

  // The elements at a dotted path, as walk() finds them, without descending into the last one.
  static void collect(element e, std::string_view path, std::vector<element>& out, int depth) {
    if (depth >= kMaxDepth) return;
    if (path.empty()) {
      out.push_back(e);
      return;
    }
    if (e.is_array()) {
      if (simdjson::dom::array a; !e.get_array().get(a)) {
        for (element x : a) collect(x, path, out, depth + 1);
      }
      return;
    }
    simdjson::dom::object o;
    if (e.get_object().get(o)) return;
    for (auto field : o) {
      const std::string_view key = field.key;
      if (path == key) {
        out.push_back(field.value);
      } else if (path.size() > key.size() && path.substr(0, key.size()) == key &&
                 path[key.size()] == '.') {
        collect(field.value, path.substr(key.size() + 1), out, depth + 1);
      }
    }
  }

  std::optional<element> mapped(std::string_view path) const {
    return mapped_element(doc_, mapping_, path);
  }

  const store::StoredRecord& r_;
  const std::optional<store::StoredRecord>* label_;
  const document::FieldMapping& mapping_;
  element doc_, label_doc_, truth_element_;
  bool doc_ok_ = false, label_ok_ = false, has_truth_element_ = false;
  std::string_view big_source_;  // the document, when it holds integers beyond 64 bits
  document::FoundValue truth_;
  document::LabelOutcome outcome_;
};

// The cursor: hex of  u8 version (2) | u64 query hash | u64 from | u64 to | u64 timestamp |
// request id. The window is the one the first page resolved (`now-1d` keeps meaning the same
// window while an export pages through it).
uint64_t fnv1a(std::string_view s, uint64_t h = 1469598103934665603ull) {
  for (unsigned char c : s) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}

void put_u64(std::string& out, uint64_t v) {
  for (int i = 7; i >= 0; --i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
uint64_t get_u64(std::string_view in) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | static_cast<unsigned char>(in[static_cast<size_t>(i)]);
  return v;
}

struct Cursor {
  uint64_t query_hash = 0;
  EpochMillis from_ms = 0, to_ms = 0;
  store::ScanRange::Position at;
};

std::string encode_cursor(uint64_t query_hash, const store::ScanRange& range,
                          const store::ScanRange::Position& at) {
  std::string raw(1, '\x02');
  put_u64(raw, query_hash);
  put_u64(raw, static_cast<uint64_t>(range.from_ms));
  put_u64(raw, static_cast<uint64_t>(range.to_ms));
  put_u64(raw, static_cast<uint64_t>(at.timestamp_ms));
  raw += at.request_id;
  static const char* kHex = "0123456789abcdef";
  std::string out;
  out.reserve(raw.size() * 2);
  for (unsigned char c : raw) {
    out.push_back(kHex[c >> 4]);
    out.push_back(kHex[c & 15]);
  }
  return out;
}

std::optional<Cursor> decode_cursor(std::string_view hex) {
  if (hex.size() % 2 != 0 || hex.size() < 66 || hex.size() > 2 * (33 + 1024)) return std::nullopt;
  std::string raw;
  for (size_t i = 0; i < hex.size(); i += 2) {
    unsigned v = 0;
    const auto [end, ec] = std::from_chars(hex.data() + i, hex.data() + i + 2, v, 16);
    if (ec != std::errc() || end != hex.data() + i + 2) return std::nullopt;
    raw.push_back(static_cast<char>(v));
  }
  if (raw[0] != '\x02') return std::nullopt;
  const std::string_view v(raw);
  Cursor c;
  c.query_hash = get_u64(v.substr(1, 8));
  c.from_ms = static_cast<EpochMillis>(get_u64(v.substr(9, 8)));
  c.to_ms = static_cast<EpochMillis>(get_u64(v.substr(17, 8)));
  c.at.timestamp_ms = static_cast<EpochMillis>(get_u64(v.substr(25, 8)));
  c.at.request_id = raw.substr(33);
  return c;
}

// RFC 4180: a field holding a comma, quote or line break is quoted, quotes doubled.
void csv_cell(std::string& out, std::string_view v) {
  if (v.find_first_of(",\"\r\n") == std::string_view::npos) {
    out += v;
    return;
  }
  out += '"';
  for (char c : v) {
    if (c == '"') out += '"';
    out += c;
  }
  out += '"';
}

// A JSON value as a CSV cell: strings unquoted, everything else as its JSON text.
std::string csv_value(std::string_view json) {
  if (json.size() >= 2 && json.front() == '"') {
    simdjson::dom::parser p;
    element e;
    std::string_view s;
    if (!p.parse(json).get(e) && !e.get_string().get(s)) return std::string(s);
  }
  return json == "null" ? std::string() : std::string(json);
}

std::vector<std::string> split_fields(std::string_view list) {
  std::vector<std::string> out;
  while (!list.empty()) {
    const size_t comma = list.find(',');
    std::string_view f = list.substr(0, comma);
    while (!f.empty() && f.front() == ' ') f.remove_prefix(1);
    while (!f.empty() && f.back() == ' ') f.remove_suffix(1);
    if (!f.empty()) out.emplace_back(f);
    if (comma == std::string_view::npos) break;
    list.remove_prefix(comma + 1);
  }
  return out;
}

HttpResponse bad(std::string_view type, std::string_view reason) {
  return document::error_response(400, type, reason);
}

// Every scalar leaf of a document at its dotted path (arrays looked through), added to a block
// summary: what walk() can find at any path. Gives up (a summary that knows nothing) before the
// depth at which walk() stops looking.
void summarize(element e, std::string& path, store::BlockSummary& s, int depth,
               std::string_view original) {
  if (depth >= kMaxDepth - 2) {
    s.give_up();
    return;
  }
  switch (e.type()) {
    case element_type::OBJECT: {
      simdjson::dom::object o;
      if (e.get_object().get(o)) return;
      for (auto field : o) {
        const size_t n = path.size();
        if (depth > 0) path += '.';
        path += field.key;
        summarize(field.value, path, s, depth + 1, original);
        path.resize(n);
      }
      return;
    }
    case element_type::ARRAY: {
      simdjson::dom::array a;
      if (e.get_array().get(a)) return;
      for (element x : a) summarize(x, path, s, depth + 1, original);
      return;
    }
    case element_type::STRING: {
      const std::string_view text = e.get_string().value_unsafe();
      s.add_string(path, text);
      double d = 0;
      if (big_integer_in(original, text) && document::finite_number(text, d)) s.add_number(path, d);
      return;
    }
    case element_type::INT64:
      s.add_number(path, static_cast<double>(e.get_int64().value_unsafe()));
      return;
    case element_type::UINT64:
      s.add_number(path, static_cast<double>(e.get_uint64().value_unsafe()));
      return;
    case element_type::DOUBLE:
      s.add_number(path, e.get_double().value_unsafe());
      return;
    case element_type::BOOL:
      s.add_bool(path, e.get_bool().value_unsafe());
      return;
    case element_type::NULL_VALUE:
      s.add_null(path);
      return;
  }
}

// A block summary read by the search's field rules: Verity's own fields, the label's, and
// `confidence`/`score` (which may stand for a mapped field) are unknown.
class SummaryView final : public kql::BlockView {
 public:
  explicit SummaryView(const store::BlockSummary& s) : s_(s) {}
  Path lookup(std::string_view path) const override {
    Path p;
    // Unknown too: a path ending in '.' (or empty), which the KQL walk reads as the object
    // before it, not as a leaf the summary lists.
    const auto doc_path = document_path(path);
    if (!doc_path || !s_.complete() || *doc_path == "confidence" || *doc_path == "score" ||
        doc_path->empty() || doc_path->back() == '.') {
      return p;
    }
    p.known = true;
    p.below = s_.has_value_below(*doc_path);
    if (const auto* f = s_.field(*doc_path)) {
      using B = store::BlockSummary;
      p.strings = f->kinds & B::kString;
      p.numbers = f->kinds & B::kNumber;
      p.trues = f->kinds & B::kTrue;
      p.falses = f->kinds & B::kFalse;
      p.nulls = f->kinds & B::kNull;
      p.min = f->min;
      p.max = f->max;
    }
    return p;
  }
  bool may_hold(std::string_view path, std::string_view text) const override {
    const auto doc_path = document_path(path);
    const auto* f = doc_path ? s_.field(*doc_path) : nullptr;
    return f == nullptr || store::BlockSummary::may_hold_string(*f, text);
  }

 private:
  const store::BlockSummary& s_;
};

}  // namespace

// The query as the read audit keeps it: a raw value written `~"..."` (to match its masked form)
// is replaced by that masked form, so the raw value never reaches the trail.
SearchIndexer::SearchIndexer(std::shared_ptr<const document::FieldMappingSet> fields,
                             IndexedFields indexed, bool summaries)
    : mappings_(std::move(fields)), indexed_(std::move(indexed)), summaries_(summaries) {
  for (auto& [model, list] : indexed_) {
    for (auto& f : list) {
      if (auto name = field_name(f)) f = *name;
    }
    std::sort(list.begin(), list.end());
    list.erase(std::unique(list.begin(), list.end()), list.end());
  }
}

std::optional<std::string> SearchIndexer::field_name(std::string_view path) {
  auto p = document_path(path);
  if (!p || p->empty()) return std::nullopt;
  return std::string(*p);
}

const std::vector<std::string>* SearchIndexer::fields_of(std::string_view model) const {
  auto it = indexed_.find(model);
  if (it == indexed_.end()) it = indexed_.find("*");
  return it == indexed_.end() ? nullptr : &it->second;
}

bool SearchIndexer::indexes(std::string_view model, std::string_view field) const {
  const auto* list = fields_of(model);
  return list != nullptr && std::binary_search(list->begin(), list->end(), field);
}

std::string SearchIndexer::spec() const {
  // The format (tokens, summaries), the indexed fields, and where `confidence` and `score` point
  // when a model indexes them (the values indexed under those names follow the mapping).
  std::string out = summaries_ ? "verity-search-index-v1 summaries" : "verity-search-index-v1";
  static const document::FieldMapping kDefaults = document::FieldMapping::defaults();
  for (const auto& [model, list] : indexed_) {
    out += "\n" + model + ":";
    for (const auto& f : list) {
      out += " " + f;
      if (f != "confidence" && f != "score") continue;
      const document::FieldMapping& m = mappings_ == nullptr ? kDefaults
                                        : model == "*"       ? mappings_->default_mapping
                                                             : mappings_->for_model(model);
      out += "=";
      for (const auto& ptr :
           m.pointers(f == "score" ? document::Field::kScore : document::Field::kConfidence)) {
        out += ptr.text + "|";
      }
    }
  }
  if (mappings_ != nullptr && indexed_.count("*") > 0) {
    // "*" covers models with their own mappings too.
    for (const auto& [model, m] : mappings_->per_model) {
      out += "\n" + model + "=";
      for (const auto f : {document::Field::kConfidence, document::Field::kScore}) {
        for (const auto& ptr : m.pointers(f)) out += ptr.text + "|";
      }
    }
  }
  return out;
}

bool SearchIndexer::may_match(const kql::Query& query, const store::BlockSummary& summary) {
  return query.may_match(SummaryView(summary));
}

bool SearchIndexer::matches(const kql::Query& query, std::string_view model,
                            std::string_view document) const {
  static const document::FieldMapping kDefaults = document::FieldMapping::defaults();
  store::StoredRecord r;
  r.model_name = model;
  r.document = document;
  const std::optional<store::StoredRecord> no_label;
  const SearchRecord rec(r, &no_label, mappings_ ? mappings_->for_model(model) : kDefaults);
  return query.matches(rec);
}

std::optional<std::string> SearchIndexer::canonical(std::string_view path,
                                                    const std::optional<std::string>& model) const {
  const auto doc_path = document_path(path);
  if (!doc_path) return std::nullopt;
  if (model) {
    if (!indexes(*model, *doc_path)) return std::nullopt;
  } else {
    bool any = false;
    for (const auto& [m, list] : indexed_) {
      any = any || std::binary_search(list.begin(), list.end(), *doc_path);
    }
    if (!any) return std::nullopt;
  }
  return std::string(*doc_path);
}

void SearchIndexer::index(std::string_view model, std::string_view, std::string_view document,
                          std::vector<store::IndexTerm>& terms,
                          store::BlockSummary& summary) const {
  if (!summaries_ && fields_of(model) == nullptr) return;  // nothing to do: no parse
  Parsers& p = parsers();
  p.doc_scratch.clear();
  element doc;
  if (document::parse_document(p.doc, document, p.doc_scratch, doc) != simdjson::SUCCESS) {
    summary.give_up();  // not readable here: nothing can be said of its block
    return;
  }
  const std::string_view original = p.doc_scratch.empty() ? std::string_view() : document;
  if (summaries_) {
    std::string path;
    summarize(doc, path, summary, 0, original);
  }
  const auto* list = fields_of(model);
  if (list == nullptr) return;
  static const document::FieldMapping kDefaults = document::FieldMapping::defaults();
  const document::FieldMapping& mapping = mappings_ ? mappings_->for_model(model) : kDefaults;
  std::vector<kql::Value> values;
  std::vector<std::string> tokens;
  for (const auto& field : *list) {
    values.clear();
    (void)document_values(doc, field, mapping, original, values);
    tokens.clear();
    for (const auto& v : values) {
      std::string t = kql::index_token(v);
      if (!t.empty() && std::find(tokens.begin(), tokens.end(), t) == tokens.end()) {
        tokens.push_back(std::move(t));
        if (tokens.size() > kMaxTermsPerField) break;  // the overflow token stands for them
      }
    }
    if (tokens.size() > kMaxTermsPerField) tokens = {std::string(kOverflowToken)};
    for (auto& t : tokens) terms.push_back({field, std::move(t)});
  }
}

std::string SearchApi::masked_where(std::string_view where) const {
  if (!hasher_ || where.find("~\"") == std::string_view::npos) return std::string(where);
  std::string out;
  size_t i = 0;
  while (i < where.size()) {
    const size_t at = where.find("~\"", i);
    if (at == std::string_view::npos) break;
    out.append(where.substr(i, at - i));
    std::string raw;
    size_t j = at + 2;
    for (; j < where.size() && where[j] != '"'; ++j) {
      if (where[j] == '\\' && j + 1 < where.size()) ++j;
      raw += where[j];
    }
    out += '"';
    out += hasher_(raw);
    out += '"';
    i = j + 1;
  }
  if (i < where.size()) out.append(where.substr(i));
  return out;
}

HttpResponse SearchApi::search(const HttpRequest& req) const {
  const EpochMillis now = clock_.now_ms();
  const std::string_view model = req.query_param("model");
  const std::string_view version = req.query_param("version");
  const std::string_view from = req.query_param("from");
  const std::string_view to = req.query_param("to");
  const std::string_view where = req.query_param("where");
  const std::string_view order = req.query_param("order");
  const std::string_view format = req.query_param("format");
  const std::string_view fields_param = req.query_param("fields");
  const std::string_view cursor = req.query_param("cursor");
  const bool explain = req.query_param("explain") == "true";

  store::ScanRange range;
  if (!model.empty()) range.model = std::string(model);
  if (!version.empty()) range.version = std::string(version);
  if (!from.empty()) {
    auto t = kql::parse_time(from, now);
    if (!t) return bad("invalid_time", "from: " + t.status().message());
    range.from_ms = *t;
  } else if (model.empty()) {
    range.from_ms = now - options_.default_window_ms;  // no model: a bounded default window
  }
  if (!to.empty()) {
    auto t = kql::parse_time(to, now);
    if (!t) return bad("invalid_time", "to: " + t.status().message());
    range.to_ms = *t;
  }
  if (order != "" && order != "asc" && order != "desc") {
    return bad("invalid_order", "order must be asc or desc");
  }
  range.descending = order == "desc";
  if (format != "" && format != "ndjson" && format != "json" && format != "csv") {
    return bad("invalid_format", "format must be ndjson, json or csv");
  }
  size_t limit = options_.default_limit;
  if (const auto l = req.query_param("limit"); l == "max") {
    limit = options_.max_limit;  // what an export asks for
  } else if (!l.empty()) {
    const auto [end, ec] = std::from_chars(l.data(), l.data() + l.size(), limit);
    if (ec != std::errc() || end != l.data() + l.size() || limit == 0) {
      return bad("invalid_limit", "limit must be a positive integer");
    }
    if (limit > options_.max_limit) {
      return bad("invalid_limit",
                 "limit is at most " + std::to_string(options_.max_limit) + ": page with cursor");
    }
  }
  size_t error_position = 0;
  auto query = kql::Query::parse(where, &error_position, now, &hasher_);
  if (!query) {
    HttpResponse r = bad("invalid_query", "where: " + query.status().message());
    r.headers.emplace_back("X-Verity-Error-Position", std::to_string(error_position));
    return r;
  }
  std::vector<std::string> fields;
  for (auto& f : split_fields(fields_param)) {
    if (std::find(fields.begin(), fields.end(), f) == fields.end()) fields.push_back(std::move(f));
  }
  if (fields.size() > options_.max_fields) {
    return bad("invalid_fields",
               "fields names at most " + std::to_string(options_.max_fields) + " distinct fields");
  }
  if (format == "csv" && fields.empty()) {
    fields = {"@timestamp", "request_id",      "model",   "version",
              "input",      "masking_version", "document"};
  }

  // The cursor belongs to the query that made it (the texts as sent: a relative window moves on).
  std::string identity;
  for (std::string_view part : {model, version, from, to, where, order}) {
    identity += std::to_string(part.size()) + ":";
    identity += part;
  }
  const uint64_t query_hash = fnv1a(identity);
  if (!cursor.empty()) {
    auto c = decode_cursor(cursor);
    if (!c) return bad("invalid_cursor", "cursor: not a cursor of this API");
    if (c->query_hash != query_hash) {
      return bad("invalid_cursor",
                 "cursor: made by another query (model, version, from, to, where and order must "
                 "be the same as on the first page)");
    }
    range.from_ms = c->from_ms;  // the window of the first page
    range.to_ms = c->to_ms;
    range.after = std::move(c->at);
  }

  // Labels are read for the records a query's label fields need them for, else for hits only.
  bool label_to_match = false, label_to_show = fields.empty();
  for (const auto& f : query->fields()) label_to_match = label_to_match || needs_label(f);
  for (const auto& f : fields) label_to_show = label_to_show || needs_label(f);
  bool wants_erased = false;
  for (const auto& f : query->fields()) wants_erased = wants_erased || own_field(f) == Own::kErased;

  // Narrowing (search_indexer.h): the field index when the query's matches all hold one of a few
  // indexed terms, block summaries for the rest; the query still filters every record read.
  if (options_.indexer && !query->match_all()) {
    const SearchIndexer& indexer = *options_.indexer;
    auto terms = query->index_terms(
        [&](std::string_view path) { return indexer.canonical(path, range.model); });
    if (terms) {
      std::vector<std::string> indexed;
      for (auto& [field, token] : *terms) {
        if (std::find(indexed.begin(), indexed.end(), field) == indexed.end()) {
          indexed.push_back(field);
        }
        range.terms.push_back({field, std::move(token)});
      }
      for (const auto& field : indexed) {
        range.terms.push_back({field, std::string(SearchIndexer::kOverflowToken)});
      }
    }
    // A query that even a block of no values may match (`not ...`, only Verity's own or the
    // label's fields) is never ruled out: its blocks are not looked up (may_match only grows with
    // what a summary holds).
    if (indexer.summarizes() && !SearchIndexer::may_match(*query, store::BlockSummary())) {
      range.may_match = [q = &*query](const store::BlockSummary& summary) {
        return SearchIndexer::may_match(*q, summary);
      };
    }
  }

  auto scan = store_.scan(range);
  if (!scan) return document::store_error_response(scan.status());
  static const document::FieldMapping kDefaults = document::FieldMapping::defaults();

  std::string body;
  std::vector<std::string> hit_ids;
  uint64_t scanned = 0, matched = 0;
  bool truncated = false, exhausted = false;
  std::optional<store::ScanRange::Position> last;
  if (format == "json") body = "{\"hits\":[";  // the hits are appended as they are found
  const auto started = std::chrono::steady_clock::now();
  if (format == "csv") {
    for (size_t i = 0; i < fields.size(); ++i) {
      if (i) body += ',';
      csv_cell(body, fields[i]);
    }
    body += "\r\n";
  }
  while (matched < limit) {
    // Bounded work, memory and lock time per page: records read, bytes answered, time taken.
    if (scanned >= options_.scan_budget || body.size() >= options_.max_page_bytes ||
        ((scanned & 255) == 255 && std::chrono::steady_clock::now() - started >
                                       std::chrono::milliseconds(options_.max_page_ms))) {
      truncated = true;
      break;
    }
    auto next = (*scan)->next();
    if (!next) {
      if (next.status().code() == StatusCode::kResourceExhausted) {
        return document::error_response(400, "query_too_broad", next.status().message());
      }
      return document::store_error_response(next.status());
    }
    if (*next == nullptr) {
      exhausted = true;
      break;
    }
    const store::StoredRecord& r = **next;
    ++scanned;
    last = store::ScanRange::Position{r.timestamp_ms, r.request_id};
    if (r.erased && !wants_erased) continue;
    std::optional<store::StoredRecord> label;
    auto read_label = [&]() -> Status {
      if (r.erased) return Status::ok();
      auto l = (*scan)->label(r.request_id);
      if (!l) return l.status();
      label = std::move(*l);
      return Status::ok();
    };
    if (label_to_match) {
      if (auto s = read_label(); !s) return document::store_error_response(s);
    }
    const document::FieldMapping& mapping = fields_ ? fields_->for_model(r.model_name) : kDefaults;
    std::optional<SearchRecord> rec;
    rec.emplace(r, &label, mapping);
    if (!query->matches(*rec)) continue;
    if (label_to_show && !label_to_match) {
      if (auto s = read_label(); !s) return document::store_error_response(s);
      if (label) rec.emplace(r, &label, mapping);  // the label's fields, for the projection
    }
    ++matched;
    std::string hit;
    if (fields.empty()) {
      hit = r.to_json();
      if (label) {
        hit.pop_back();  // '}'
        hit += ",\"label\":";
        hit += label->to_json();
        hit += '}';
      }
    } else if (format == "csv") {
      for (size_t i = 0; i < fields.size(); ++i) {
        if (i) hit += ',';
        std::string json;
        {
          document::JsonWriter w(json);
          rec->write_field(w, fields[i]);
        }
        csv_cell(hit, csv_value(json));
      }
    } else {
      document::JsonWriter w(hit);
      w.begin_object();
      for (const auto& f : fields) {
        w.key(f);
        rec->write_field(w, f);
      }
      w.end_object();
    }
    if (format == "json") {
      if (matched > 1) body += ',';
      body += hit;
    } else {
      body += hit;
      body += format == "csv" ? "\r\n" : "\n";
    }
  }

  const store::ScanStats& st = (*scan)->stats();
  const std::string next_cursor = !exhausted && last ? encode_cursor(query_hash, range, *last) : "";
  std::string meta;
  {
    document::JsonWriter w(meta);
    w.begin_object();
    w.member("returned", matched).member("scanned", scanned).member("truncated", truncated);
    w.key("next_cursor");
    if (next_cursor.empty()) {
      w.null();
    } else {
      w.string(next_cursor);
    }
    w.key("window").begin_object();
    if (range.from_ms != std::numeric_limits<EpochMillis>::min()) {
      w.member("from", format_rfc3339(range.from_ms));
    }
    if (range.to_ms != std::numeric_limits<EpochMillis>::max()) {
      w.member("to", format_rfc3339(range.to_ms));
    }
    w.end_object();
    if (explain) {
      w.key("explain").begin_object();
      std::string index = !range.model     ? "time index: every model, versions merged"
                          : !range.version ? "time index: model, its versions merged"
                                           : "time index: model and version";
      if (st.term_groups > 0) {
        std::vector<std::string_view> names;
        std::string fields;
        for (const auto& t : range.terms) {
          if (std::find(names.begin(), names.end(), t.field) != names.end()) continue;
          names.push_back(t.field);
          fields += (fields.empty() ? "" : ", ") + t.field;
        }
        index = "field index: " + fields + " (" + std::to_string(range.terms.size()) +
                " lookups per model version" +
                (st.term_groups < st.groups ? "; other model versions read whole" : "") + ")";
      }
      w.member("index", index);
      w.member("partitions", st.partitions)
          .member("slots", st.slots)
          .member("groups", st.groups)
          .member("groups_by_field_index", st.term_groups)
          .member("index_ranges", st.term_ranges)
          .member("index_entries", st.index_entries)
          .member("records_read", st.records)
          .member("blocks_read", st.blocks_read)
          .member("blocks_skipped", st.blocks_skipped)
          .member("filter", query->match_all() ? "none"
                            : range.may_match  ? "block summaries, then where on every record read"
                                               : "where, on every record read");
      w.end_object();
    }
    w.end_object();
  }
  if (format == "json") {
    body += "],";
    body.append(meta, 1, std::string::npos);  // the meta members after the hits
    body += '\n';
  } else if (format != "csv") {
    body += "{\"_meta\":";
    body += meta;
    body += "}\n";
  }

  scan = Status::unavailable("done");  // the read lock goes before the audit writes
  if (auditor_) {
    ReadAccess a;
    a.endpoint = "search";
    for (const auto& [k, v] : req.query) {
      a.query += (a.query.empty() ? "" : "&") + k + "=" + (k == "where" ? masked_where(v) : v);
    }
    a.returned = matched;
    if (auto s = auditor_(req, a); !s) {
      return document::error_response(503, "read_audit_unavailable",
                                      "the read could not be recorded: " + s.message());
    }
  }
  HttpResponse resp;
  resp.status = 200;
  resp.content_type = format == "csv"    ? "text/csv; charset=utf-8"
                      : format == "json" ? "application/json"
                                         : "application/x-ndjson";
  resp.body = std::move(body);
  if (!next_cursor.empty()) resp.headers.emplace_back("X-Verity-Next-Cursor", next_cursor);
  resp.headers.emplace_back("X-Verity-Scanned", std::to_string(scanned));
  resp.headers.emplace_back("X-Verity-Matched", std::to_string(matched));
  return resp;
}

}  // namespace verity::query
