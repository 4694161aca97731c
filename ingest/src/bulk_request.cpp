#include "verity/ingest/bulk_request.h"

#include <cstring>

#include <simdjson.h>

namespace verity::ingest {
namespace od = simdjson::ondemand;

std::string_view bulk_op_name(BulkOp op) {
  switch (op) {
    case BulkOp::kIndex:
      return "index";
    case BulkOp::kCreate:
      return "create";
    case BulkOp::kUpdate:
      return "update";
    case BulkOp::kDelete:
      return "delete";
  }
  return "index";
}

struct BulkParser::Impl {
  size_t max_line;
  std::string body;  // the request body plus padding
  od::parser parser;
};

BulkParser::BulkParser(size_t max_line) : impl_(std::make_unique<Impl>()) {
  impl_->max_line = max_line;
}
BulkParser::~BulkParser() = default;

namespace {

std::string line_ref(uint64_t line) { return "[" + std::to_string(line) + "]"; }

// Parses an action line into `item` (op, index, id); false with the reason otherwise.
bool parse_action(od::parser& parser, const FramedLine& line, BulkItem& item, std::string& why) {
  const std::string malformed = "Malformed action/metadata line " + line_ref(line.number) + ", ";
  if (line.too_long) {
    why = malformed + "it is longer than max_line";
    return false;
  }
  od::document doc;
  od::object action;
  if (parser.iterate(line.text.data(), line.text.size(), line.readable).get(doc) ||
      doc.get_object().get(action)) {
    const size_t first = line.text.find_first_not_of(" \t");
    why = malformed + (first != std::string_view::npos && line.text[first] == '{'
                           ? "invalid JSON"
                           : "expected START_OBJECT");
    return false;
  }
  size_t fields = 0;
  bool ok = true;
  for (auto field : action) {
    std::string_view key;
    od::value value;
    if (field.unescaped_key().get(key) || field.value().get(value)) {
      why = malformed + "invalid JSON";
      return false;
    }
    if (++fields > 1) {
      why = malformed + "expected END_OBJECT after the action's parameters";
      return false;
    }
    if (key == "index") {
      item.op = BulkOp::kIndex;
    } else if (key == "create") {
      item.op = BulkOp::kCreate;
    } else if (key == "update") {
      item.op = BulkOp::kUpdate;
    } else if (key == "delete") {
      item.op = BulkOp::kDelete;
    } else {
      why = malformed + "expected field [create], [delete], [index] or [update]";
      return false;
    }
    od::object params;
    if (value.get_object().get(params)) {
      why = malformed + "expected an object as the value of [" +
            std::string(bulk_op_name(item.op)) + "]";
      return false;
    }
    for (auto p : params) {
      std::string_view name;
      od::value v;
      if (p.unescaped_key().get(name) || p.value().get(v)) {
        ok = false;
        break;
      }
      std::string_view s;
      if (name == "_index" || name == "_id") {
        if (v.get_string().get(s)) {
          why = "Action/metadata line " + line_ref(line.number) + ": [" + std::string(name) +
                "] must be a string";
          return false;
        }
        (name == "_index" ? item.index : item.id).assign(s);
      }
      // Other parameters (routing, pipeline, require_alias, if_seq_no, ...) mean nothing here.
    }
    if (!ok) break;
  }
  const char* trailing = nullptr;  // the document must end with the action object
  if (!ok || doc.current_location().get(trailing) == simdjson::SUCCESS) {
    why = malformed + "invalid JSON";
    return false;
  }
  if (fields == 0) {
    why = malformed + "expected field [create], [delete], [index] or [update]";
    return false;
  }
  if (item.id.size() > 512) {
    why = "Action/metadata line " + line_ref(line.number) +
          ": [_id] is too long, must be no longer than 512 bytes";
    return false;
  }
  return true;
}

}  // namespace

bool BulkParser::parse(std::string_view body, std::string_view url_index,
                       std::vector<BulkItem>& items, BulkError& error) {
  Impl& im = *impl_;
  items.clear();
  auto fail = [&](std::string type, std::string reason) {
    items.clear();
    error = {std::move(type), std::move(reason)};
    return false;
  };
  if (body.empty()) {
    return fail("parse_exception", "request body is required");
  }
  if (body.back() != '\n') {
    return fail("illegal_argument_exception",
                "The bulk request must be terminated by a newline [\\n]");
  }
  im.body.assign(body);
  im.body.append(kJsonPadding, ' ');
  const char* base = im.body.data();
  const size_t end = body.size();

  // Cuts the next non-blank line starting at `pos` (advanced past it); false at the end.
  uint64_t line_no = 0;
  size_t pos = 0;
  auto next_line = [&](FramedLine& out) {
    while (pos < end) {
      const auto* nl = static_cast<const char*>(std::memchr(base + pos, '\n', end - pos));
      const size_t stop = static_cast<size_t>(nl - base);  // the body ends with '\n'
      size_t len = stop - pos;
      if (len > 0 && base[pos + len - 1] == '\r') --len;
      ++line_no;
      const size_t start = pos;
      pos = stop + 1;
      if (len == 0) continue;
      out = FramedLine{};
      out.number = line_no;
      out.length = len;
      if (len > im.max_line) {
        out.too_long = true;
      } else {
        out.text = std::string_view(base + start, len);
        out.readable = im.body.size() - start;
      }
      return true;
    }
    return false;
  };

  FramedLine line;
  while (next_line(line)) {
    BulkItem item;
    item.action_line = line.number;
    std::string why;
    if (!parse_action(im.parser, line, item, why)) {
      const char* type = line.too_long || why.find("Malformed") == 0
                             ? "illegal_argument_exception"
                             : "action_request_validation_exception";
      return fail(type, std::move(why));
    }
    if (item.index.empty()) item.index.assign(url_index);
    if (item.index.empty()) {
      return fail("action_request_validation_exception",
                  "Validation Failed: 1: index is missing (action on line " +
                      std::to_string(line.number) + ");");
    }
    if (item.op != BulkOp::kDelete) {
      if (!next_line(item.source)) {
        return fail("illegal_argument_exception",
                    "the [" + std::string(bulk_op_name(item.op)) + "] action on line " +
                        std::to_string(line.number) + " has no source line");
      }
    }
    items.push_back(std::move(item));
  }
  if (items.empty()) {
    return fail("action_request_validation_exception", "Validation Failed: 1: no requests added;");
  }
  return true;
}

}  // namespace verity::ingest
