#pragma once

// A reference for the Masker's detector scan (tests and the masker fuzz target): every pattern in
// one database, scanned once over the whole text, as the Masker scanned before it split its
// patterns by what a segment must hold (ScanGate).

#include <algorithm>
#include <string_view>
#include <tuple>
#include <vector>

#include "masker_impl.h"

namespace verity::testing {

using Found = std::vector<std::tuple<uint32_t, uint32_t, uint16_t>>;

inline Found sorted(const std::vector<ingest::Candidate>& cands) {
  Found out;
  for (const ingest::Candidate& c : cands) out.emplace_back(c.from, c.to, c.detector);
  std::sort(out.begin(), out.end());
  return out;
}

// Every pattern of `impl` in one database, scanned once over the whole text: what the Masker did
// before its patterns were split by gate.
class OneDatabase {
 public:
  explicit OneDatabase(const ingest::Masker::Impl& impl) : impl_(impl) {
    std::vector<const char*> exprs;
    std::vector<unsigned> flags, ids;
    for (size_t i = 0; i < impl.patterns.size(); ++i) {
      exprs.push_back(impl.patterns[i].c_str());
      flags.push_back(HS_FLAG_SOM_LEFTMOST);
      ids.push_back(static_cast<unsigned>(i));
    }
    hs_compile_error_t* err = nullptr;
    ok_ = hs_compile_multi(exprs.data(), flags.data(), ids.data(),
                           static_cast<unsigned>(exprs.size()), HS_MODE_BLOCK, nullptr, &db_,
                           &err) == HS_SUCCESS &&
          hs_alloc_scratch(db_, &scratch_) == HS_SUCCESS;
    if (err != nullptr) hs_free_compile_error(err);
  }
  bool ok() const { return ok_; }
  ~OneDatabase() {
    hs_free_scratch(scratch_);
    hs_free_database(db_);
  }
  Found scan(std::string_view text) {
    found_.clear();
    hs_scan(db_, text.data(), static_cast<unsigned>(text.size()), 0, scratch_, on_match, this);
    Found out;
    for (const auto& [from, to, id] : found_)
      out.emplace_back(from, to, impl_.pattern_detector[id]);
    std::sort(out.begin(), out.end());
    return out;
  }

 private:
  static int on_match(unsigned id, unsigned long long from, unsigned long long to, unsigned,
                      void* self) {
    static_cast<OneDatabase*>(self)->found_.emplace_back(from, to, id);
    return 0;
  }
  const ingest::Masker::Impl& impl_;
  hs_database_t* db_ = nullptr;
  hs_scratch_t* scratch_ = nullptr;
  bool ok_ = false;
  std::vector<std::tuple<uint32_t, uint32_t, unsigned>> found_;
};

}  // namespace verity::testing
