#pragma once

// The seed of a property test: VERITY_TEST_SEED when it is set (to replay a failure), otherwise a
// fresh one each run. A test traces it (SCOPED_TRACE(seed_trace(seed))) so a failure names it.

#include <cstdint>
#include <cstdlib>
#include <random>
#include <string>

namespace verity::testing {

inline uint64_t test_seed() {
  const char* v = std::getenv("VERITY_TEST_SEED");
  if (v != nullptr && *v != '\0') return std::strtoull(v, nullptr, 10);
  return (static_cast<uint64_t>(std::random_device{}()) << 32) | std::random_device{}();
}

inline std::string seed_trace(uint64_t seed) {
  return "replay with VERITY_TEST_SEED=" + std::to_string(seed);
}

}  // namespace verity::testing
