#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <string>

namespace verity::testing {

struct SoakOptions {
  int iterations = 3;
  int clients = 3;  // concurrent HTTP clients
  int lines_per_request = 200;
  std::chrono::milliseconds min_run{200};   // each iteration is killed at a random moment
  std::chrono::milliseconds max_run{1500};  // between min_run and max_run after start-up
  uint32_t seed = 1;
  // Before the final restart, append a torn record (garbage) to the newest write-ahead log, as a
  // write cut off by a power loss leaves it: the store must still open with every acknowledged
  // event.
  bool torn_tail = false;
};

struct SoakResult {
  int iterations = 0;
  uint64_t acknowledged = 0;  // events in requests answered 200 (committed)
  uint64_t stored = 0;        // records in the store at the end
  uint64_t lost = 0;          // acknowledged events absent at the end
  uint64_t duplicates = 0;    // records beyond one per request id
  std::string first_lost;     // a lost request id, for the report
  bool chains_ok = false;     // POST /v1/verify after the last restart found no break
  std::string verify_report;  // its answer
};

// The durability contract under kill -9: runs `verity serve` on `data_dir`, loads it with HTTP
// clients that remember every event acknowledged (200 after the commit), kills the server with
// SIGKILL at a random moment, restarts it on the same data and ports, and repeats. At the end the
// stopped store is opened read-only with RocksDB and every acknowledged request id is looked up in
// the request-id index; records are counted per partition to find duplicates. Before that, the
// restarted server recomputes every partition's hash chain (POST /v1/verify).
SoakResult run_crash_soak(const std::filesystem::path& data_dir, const SoakOptions& options);

}  // namespace verity::testing
