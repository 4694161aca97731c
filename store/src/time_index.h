#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "verity/core/time_format.h"

namespace verity::store {

// The time index ("by_time" family): every stored prediction under
//   u32 BE day | u8 slot | varint-len model | model | varint-len version | version |
//   u64 BE (timestamp_ms with its sign bit flipped) | request id  ->  u64 BE sequence
// where the slot is the prediction's 10 minutes of its day (0-143, time_slot()). Within a slot,
// the keys of one model version (a "group": day | slot | model | version) are in (timestamp,
// request id) order, so a search of model + version + time range is a seek and a sequential read
// per slot; a model's versions (or every model) are merged by that order (scan.cpp), slot after
// slot. The day leads so that dropping a partition is one DeleteRange. Written by the commit
// thread in the same batch as the record.
// Why the slot: without it (day | model | version | ..., before 2026-12-02), the new entries of a
// day's model versions went to the ends of as many ranges, so each table file flushed from the
// family overlapped all of the day's entries below it, and every compaction rewrote them: the
// family's compaction cost grew with what the day held (0.15 us/event at 1M stored, 5 at 8M).
// With the slot, a flushed file overlaps only the entries of the slots it holds.
inline constexpr const char* kTimeIndexCf = "by_time";
inline constexpr EpochMillis kTimeSlotMillis = 600'000;
inline constexpr uint32_t kTimeSlotsPerDay = 144;
// Present in "default" once every partition has its time index in the slotted layout (a store
// written before gets it built at open; its older marker was "time_index_built").
inline constexpr const char* kTimeIndexBuiltKey = "time_index_slotted";
inline constexpr const char* kTimeIndexUnslottedKey = "time_index_built";

// The slot of `ts` within its UTC day (0 to kTimeSlotsPerDay - 1).
uint32_t time_slot(EpochMillis ts);
// The key prefix of one model version's entries of a slot: day | slot | model | version.
std::string time_index_group(uint32_t day, uint32_t slot, std::string_view model,
                             std::string_view version);
// The group prefix of `ts`'s slot followed by the (timestamp, request id) suffix.
std::string time_index_key(uint32_t day, std::string_view model, std::string_view version,
                           EpochMillis ts, std::string_view request_id);
// The same, appended to `out` (no allocation when it has room).
void append_time_index_group(std::string& out, uint32_t day, uint32_t slot, std::string_view model,
                             std::string_view version);
void append_time_index_key(std::string& out, uint32_t day, std::string_view model,
                           std::string_view version, EpochMillis ts, std::string_view request_id);
// The first 4 bytes of every key of `day`.
std::string time_index_day(uint32_t day);
// The first 5 bytes of every key of a slot of `day`.
std::string time_index_slot(uint32_t day, uint32_t slot);
// The 8 bytes that order timestamps (negative ones first).
void put_time(std::string& out, EpochMillis ts);

struct TimeIndexKey {
  uint32_t day = 0;
  uint32_t slot = 0;
  std::string_view model, version;
  size_t group_size = 0;  // bytes of the group prefix
  EpochMillis ts = 0;
  std::string_view request_id;
};
// Splits a key (views into `key`); false when it is not one.
bool parse_time_index_key(std::string_view key, TimeIndexKey& out);

// The smallest string greater than every string that starts with `prefix` ("" when there is none:
// a prefix of 0xff bytes only).
std::string prefix_successor(std::string_view prefix);

}  // namespace verity::store
