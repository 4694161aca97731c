#pragma once

#include <cstddef>
#include <deque>
#include <iterator>
#include <string>
#include <vector>

namespace verity::shippers {

// The requests still to send for one batch of items (bulk items, labels, erasures): chunks of at
// most `max_items` items and about `max_bytes` bytes, split in halves when Elasticsearch answers
// 413 or refuses a whole request (down to one item, which is then dead-lettered on its own), and a
// retry list for the next round after a backoff. `Item` must have a `bytes()` member. Not
// thread-safe.
template <typename Item>
class RequestQueue {
 public:
  RequestQueue(std::vector<Item*> items, size_t max_items, size_t max_bytes)
      : max_items_(max_items), max_bytes_(max_bytes) {
    add_chunks(items);
  }

  // Nothing left to send in this round (there may be items to retry).
  bool round_done() const { return work_.empty(); }
  // Nothing left at all.
  bool done() const { return work_.empty() && retry_.empty(); }
  // The next request's items. REQUIRES: !round_done().
  std::vector<Item*> take() {
    std::vector<Item*> c = std::move(work_.front());
    work_.pop_front();
    return c;
  }
  // Sends `chunk` again as two requests, first half first. REQUIRES: chunk.size() > 1.
  void split(const std::vector<Item*>& chunk) {
    const auto half = static_cast<std::ptrdiff_t>(chunk.size() / 2);
    work_.emplace_front(chunk.begin() + half, chunk.end());
    work_.emplace_front(chunk.begin(), chunk.begin() + half);
  }
  // Sends these again at once (before the rest of the round).
  void again(std::vector<Item*> items) {
    if (!items.empty()) work_.push_front(std::move(items));
  }
  // Sends these in the next round.
  void retry(const std::vector<Item*>& items) {
    retry_.insert(retry_.end(), items.begin(), items.end());
  }
  void retry(Item* item) { retry_.push_back(item); }
  // Starts the next round with everything to retry, in as few requests as the limits allow.
  void next_round() {
    std::vector<Item*> retry = std::move(retry_);
    retry_.clear();
    add_chunks(retry);
  }

 private:
  void add_chunks(const std::vector<Item*>& items) {
    std::vector<Item*> chunk;
    size_t bytes = 0;
    for (Item* it : items) {
      if (!chunk.empty() && (chunk.size() >= max_items_ || bytes + it->bytes() > max_bytes_)) {
        work_.push_back(std::move(chunk));
        chunk.clear();
        bytes = 0;
      }
      chunk.push_back(it);
      bytes += it->bytes();
    }
    if (!chunk.empty()) work_.push_back(std::move(chunk));
  }

  size_t max_items_, max_bytes_;
  std::deque<std::vector<Item*>> work_;
  std::vector<Item*> retry_;
};

}  // namespace verity::shippers
