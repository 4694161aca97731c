// Fuzzes the KQL parser (query/kql): arbitrary bytes up to 16 KiB never crash Query::parse,
// matching or parse_time; a parse error names a position inside the text and its message starts
// with "position N: ".
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "verity/query/kql.h"

namespace {

using verity::query::kql::Record;
using verity::query::kql::Value;

constexpr verity::EpochMillis kNow = 1795170645123;  // 2026-11-20T10:30:45.123Z

// Every path holds one value of each type (and its own name as a string, so that `x:x` matches),
// except paths starting with 'z', which are absent.
class FixedRecord : public Record {
 public:
  bool values(std::string_view path, std::vector<Value>& out) const override {
    if (!path.empty() && path[0] == 'z') return false;
    Value v;
    v.type = Value::Type::kString;
    v.text = "a b";
    out.push_back(v);
    v.text = path;
    out.push_back(v);
    v = Value();
    v.type = Value::Type::kNumber;
    v.number = 1;
    out.push_back(v);
    v.number = static_cast<double>(kNow);
    v.date = true;
    out.push_back(v);
    v = Value();
    v.type = Value::Type::kBool;
    v.boolean = true;
    out.push_back(v);
    out.push_back(Value());  // null
    return true;
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace verity::query::kql;
  if (size > 16 * 1024) return 0;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  size_t pos = 0;
  auto query = Query::parse(text, &pos, kNow);
  if (query) {
    static const FixedRecord record;
    (void)query->matches(record);
    for (const std::string& f : query->fields()) {
      if (f.empty()) __builtin_trap();  // every field read has a name
    }
  } else {
    const std::string prefix = "position " + std::to_string(pos) + ": ";
    if (pos > size || query.status().message().compare(0, prefix.size(), prefix) != 0) {
      __builtin_trap();
    }
  }
  (void)parse_time(text, kNow);
  return 0;
}
