#pragma once

#include <chrono>
#include <cstdio>
#include <future>
#include <thread>
#include <vector>

#include "verity/store/store.h"

namespace verity::bench {

// Commits `batches` from `threads` submitters, each waiting for its batch's commit before
// submitting the next (as an input does); returns the seconds taken. Failed commits are printed.
inline double commit_all(store::Store& s, std::vector<std::vector<Event>> batches, size_t threads) {
  const auto start = std::chrono::steady_clock::now();
  std::vector<std::thread> submitters;
  for (size_t th = 0; th < threads; ++th) {
    submitters.emplace_back([&, th] {
      for (size_t b = th; b < batches.size(); b += threads) {
        store::IngestBatch ib;
        ib.input = "bench";
        ib.events = std::move(batches[b]);
        std::promise<void> done;
        s.submit(std::move(ib), [&](const store::CommitResult& r) {
          if (!r.status) std::fprintf(stderr, "commit: %s\n", r.status.message().c_str());
          done.set_value();
        });
        done.get_future().wait();
      }
    });
  }
  for (auto& th : submitters) th.join();
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace verity::bench
