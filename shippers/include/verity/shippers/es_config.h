#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "verity/core/time_format.h"
#include "verity/core/units.h"

namespace verity::shippers {

enum class IndexMode {
  kDataStream,  // every document into one data stream (`create` only; needs @timestamp)
  kDated,       // <prefix>YYYY.MM.DD of prediction time
};

// outputs.elasticsearch.* (README.md, "Configuration reference").
struct EsShipperOptions {
  std::vector<std::string> hosts;  // base URLs, tried in order; the next one on connection errors
  IndexMode index_mode = IndexMode::kDataStream;
  std::string data_stream = "logs-verity.predictions-default";
  std::string dated_prefix = "verity-predictions-";
  size_t batch_events = 1000;  // most items in one _bulk request
  // _bulk requests in flight at once, each on its own connection (Fluent Bit's `workers`,
  // Logstash's pipeline workers). Labels and erasures still follow every prediction before them.
  size_t workers = 2;
  ByteSize batch_bytes{5ull << 20};  // most uncompressed bytes in one _bulk request
  Duration flush_interval{1000};     // a partial batch waits at most this long
  bool gzip = true;
  std::string username, password;  // basic auth
  std::string api_key;             // "Authorization: ApiKey <api_key>" (base64 id:key)
  std::string ca_file;             // PEM CAs for https hosts ("" : the system's)
  bool verify_certificate = true;
  bool verify_hostname = true;
  Duration timeout{30'000};  // per request
  Duration initial_backoff{200};
  Duration max_backoff{30'000};
  // Above this many unshipped events /readyz reports the backlog (nothing is dropped).
  uint64_t max_backlog_events = 10'000'000;
  // Dead letters (dead_letters.*): forwarded from the store's dead-letter store, as stored
  // (masked), to a data stream of their own, or to <dead_letters_dated_prefix>YYYY.MM.DD of ingest
  // time in dated mode (dead_letter_encoder.h).
  bool dead_letters = true;
  std::string dead_letters_data_stream = "logs-verity.deadletters-default";
  std::string dead_letters_dated_prefix = "verity-deadletters-";

  // The index (or data stream) a prediction made at `timestamp_ms` goes to.
  std::string index_for(EpochMillis timestamp_ms) const;
  // What by-query requests (labels, erasures) target: the data stream, or every dated index.
  std::string by_query_target() const;
  // The index (or data stream) of a dead letter stored at `ingest_ms` (dead_letter_encoder.cpp).
  std::string dead_letter_index_for(EpochMillis ingest_ms) const;
};

}  // namespace verity::shippers
