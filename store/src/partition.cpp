#include "verity/store/partition.h"

#include <cstdio>

namespace verity::store {

std::string partition_name(uint32_t yyyymmdd) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "p_%08u", yyyymmdd);
  return buf;
}

std::optional<uint32_t> parse_partition_name(std::string_view name) {
  if (name.size() != 10 || name.substr(0, 2) != "p_") return std::nullopt;
  uint32_t v = 0;
  for (char c : name.substr(2)) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + static_cast<uint32_t>(c - '0');
  }
  const uint32_t month = v / 100 % 100, day = v % 100;
  if (month < 1 || month > 12 || day < 1 || day > 31) return std::nullopt;
  return v;
}

}  // namespace verity::store
