#pragma once

#include <chrono>
#include <functional>
#include <thread>

namespace verity::testing {

// Calls `done` every 20 ms until it returns true or `timeout` passes; its last answer. The one
// place tests wait for something to happen (header-only, so unit tests use it too).
inline bool wait_until(const std::function<bool()>& done,
                       std::chrono::seconds timeout = std::chrono::seconds(60)) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    if (done()) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));  // polling
  }
}

}  // namespace verity::testing
