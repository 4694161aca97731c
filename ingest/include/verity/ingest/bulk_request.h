#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "verity/core/status.h"
#include "verity/ingest/ndjson_framer.h"

namespace verity::ingest {

enum class BulkOp : uint8_t { kIndex, kCreate, kUpdate, kDelete };
std::string_view bulk_op_name(BulkOp op);

// One action of an Elasticsearch bulk body and, for every action but delete, its source line.
struct BulkItem {
  BulkOp op = BulkOp::kIndex;
  std::string index;  // from the action, else the index in the URL
  std::string id;     // "_id" from the action, "" when absent
  uint64_t action_line = 0;
  FramedLine source;  // valid until the next parse(); unset (number 0) for delete
};

// Why a whole bulk request is refused, in Elasticsearch's terms (HTTP 400).
struct BulkError {
  std::string type;    // "illegal_argument_exception", "action_request_validation_exception", ...
  std::string reason;  // names the line, never a payload value
};

// Splits an Elasticsearch `_bulk` body (NDJSON: action line, then a source line for index, create
// and update) into items, following Elasticsearch's rules: the body must end with a newline, every
// action line is an object with exactly one of index/create/update/delete whose value is an
// object, every item needs an index (from the action or the URL), and a malformed action line
// fails the whole request. Source lines are not parsed here; one longer than max_line is marked
// too_long. Not thread-safe: keeps a padded copy of the body and a parser.
class BulkParser {
 public:
  explicit BulkParser(size_t max_line);
  ~BulkParser();
  BulkParser(const BulkParser&) = delete;
  BulkParser& operator=(const BulkParser&) = delete;

  // Fills `items` (cleared first) or returns false with `error` set.
  bool parse(std::string_view body, std::string_view url_index, std::vector<BulkItem>& items,
             BulkError& error);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace verity::ingest
