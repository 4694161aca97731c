#pragma once

// A batch on its way to the commit thread: prepared by the submitting thread (Store::prepare),
// queued (submission_queue.h), then written in a commit group (commit_loop.cpp).

#include <string>
#include <vector>

#include "quality_writer.h"
#include "verity/core/sha256.h"
#include "verity/store/ingest_batch.h"
#include "verity/store/search_index.h"

namespace verity::store {

// An event made ready for the commit thread by the submitting thread: digest computed and record
// encoded, with the sequence left to patch.
struct PreparedEvent {
  Sha256Digest digest{};
  Sha256Digest entry_digest{};  // what the record contributes to its partition's hash chain
  std::string record;
  JoinPlan join;                 // a label's
  std::vector<IndexTerm> terms;  // a prediction's field-index terms (StoreOptions::indexer)
};

struct Pending {
  IngestBatch batch;
  std::vector<PreparedEvent> prepared;  // prepared[i] belongs to batch.events[i]
  std::vector<BatchBucket> contributions;
  CommitCallback done;
  size_t bytes = 0;
  size_t events() const { return batch.events.size() + batch.rejects.size(); }
};

}  // namespace verity::store
