#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include <rocksdb/merge_operator.h>

#include "time_index.h"
#include "verity/core/time_format.h"

namespace verity::store {

// The field index ("by_field"): a stored prediction's terms (search_index.h's IndexTerm) under
//   time-index group (day | slot | model | version) | varint-len field | field | varint-len token |
//   token | u64 BE timestamp (sign flipped) | request id  ->  u64 BE sequence
// so that one term of one model version of a slot is a range in (timestamp, request id) order,
// read like the time index (scan.cpp). Written by the commit thread in the record's batch.
inline constexpr const char* kFieldIndexCf = "by_field";
// Block summaries ("blocks"): time-index group | u64 BE block start (sign flipped)  ->
// BlockSummary, merged by block_summary_merge_operator(). A block lies within one time-index slot.
inline constexpr const char* kBlocksCf = "blocks";
// In "default": the Indexer::spec() every stored prediction was indexed and summarised with.
// Absent (or another spec): the field index and the summaries are rebuilt at open.
inline constexpr const char* kSearchIndexSpecKey = "search_index_spec";
// In "default": every record below this sequence has its values in the written block summaries
// (search_index.cpp: summaries are buffered, and written with this mark).
inline constexpr const char* kSummaryWatermarkKey = "summary_watermark";

// The group prefix of one term of the prediction at `ts`: day | slot | model | version | field |
// token.
void append_field_index_group(std::string& out, uint32_t day, EpochMillis ts,
                              std::string_view model, std::string_view version,
                              std::string_view field, std::string_view token);
// `group` (a time-index group prefix) followed by field | token.
void append_term(std::string& out, std::string_view field, std::string_view token);
// The start of the block holding `ts`.
EpochMillis block_start(EpochMillis ts);
void append_block_key(std::string& out, uint32_t day, std::string_view model,
                      std::string_view version, EpochMillis start);

std::shared_ptr<rocksdb::MergeOperator> block_summary_merge_operator();

}  // namespace verity::store
