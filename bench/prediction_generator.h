#pragma once

#include <cstdint>
#include <string>

namespace verity::bench {

// Deterministic, realistic prediction logs (~650-700 bytes each): nested inputs, outputs with class
// probabilities, explanations with feature importances, a user id, an email and a card number.
// The same seed always yields the same sequence of documents.
class PredictionGenerator {
 public:
  // Timestamps start at start_ms and advance by 0..max_step_ms-1 ms per document.
  explicit PredictionGenerator(uint64_t seed = 42, int64_t start_ms = 1795000000000,
                               int64_t max_step_ms = 40);
  // Appends one document (no newline) with request id "<prefix><n>".
  void next(std::string& out, const std::string& id_prefix = "req-");

 private:
  uint64_t rand();
  double uniform() { return static_cast<double>(rand() >> 11) * 0x1.0p-53; }
  uint64_t state_;
  int64_t ts_;
  uint64_t max_step_;
  uint64_t n_ = 0;
};

}  // namespace verity::bench
