#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "verity/core/time_format.h"

namespace verity::store {

// A partition holds the predictions of one UTC day of prediction time, as a column family named
// "p_YYYYMMDD".
std::string partition_name(uint32_t yyyymmdd);
inline std::string partition_for(EpochMillis ts) { return partition_name(utc_day(ts)); }
// "p_20261120" -> 20261120; nullopt for any other name.
std::optional<uint32_t> parse_partition_name(std::string_view name);

}  // namespace verity::store
