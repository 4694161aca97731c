#include "verity/shippers/retry_policy.h"

#include <gtest/gtest.h>

#include "verity/shippers/bulk_response.h"

namespace verity::shippers {
namespace {

TEST(RetryPolicy, ClassifiesWholeRequests) {
  EXPECT_EQ(classify_request(200), Verdict::kDone);
  EXPECT_EQ(classify_request(201), Verdict::kDone);
  EXPECT_EQ(classify_request(413), Verdict::kTooLarge);
  EXPECT_EQ(classify_request(401), Verdict::kUnauthorized);
  EXPECT_EQ(classify_request(403), Verdict::kUnauthorized);
  for (long s : {408L, 409L, 429L, 500L, 502L, 503L, 504L, 100L, 302L}) {
    EXPECT_EQ(classify_request(s), Verdict::kRetry) << s;
  }
  for (long s : {400L, 404L, 405L, 415L, 422L}) EXPECT_EQ(classify_request(s), Verdict::kRefused);
}

TEST(RetryPolicy, BulkItemsAndByQueryFailuresDifferOnlyOnConflicts) {
  EXPECT_EQ(classify_bulk_item(409), Verdict::kDone);  // create of our own _id: already there
  EXPECT_EQ(classify_by_query_failure(409), Verdict::kRetry);  // a version conflict
  for (int s : {429, 500, 503}) {
    EXPECT_EQ(classify_bulk_item(s), Verdict::kRetry);
    EXPECT_EQ(classify_by_query_failure(s), Verdict::kRetry);
  }
  EXPECT_EQ(classify_by_query_failure(312), Verdict::kRetry);  // not understood: never dropped
  for (int s : {400, 404}) {
    EXPECT_EQ(classify_bulk_item(s), Verdict::kRefused);
    EXPECT_EQ(classify_by_query_failure(s), Verdict::kRefused);
  }
}

TEST(RetryPolicy, BackoffDoublesWithJitterUpToTheCap) {
  Backoff b(Duration(100), Duration(1000), 7);
  int64_t ceiling = 100;
  for (int i = 0; i < 10; ++i) {
    const auto d = b.next().count();
    EXPECT_GE(d, ceiling / 2);
    EXPECT_LE(d, ceiling);
    ceiling = std::min<int64_t>(ceiling * 2, 1000);
  }
  b.reset();
  EXPECT_LE(b.next().count(), 100);
}

TEST(ByQueryResponse, ReadsFailuresAndTimeouts) {
  ByQueryAnswer a;
  ASSERT_TRUE(parse_by_query_response(
      R"({"took":3,"timed_out":false,"total":2,"updated":1,"failures":[)"
      R"({"index":"x","id":"r1","cause":{"type":"mapper_parsing_exception","reason":"bad"},)"
      R"("status":400},{"id":"r2","status":409,"cause":{"type":"version_conflict_engine_exception"}}]})",
      a));
  ASSERT_EQ(a.failures.size(), 2u);
  EXPECT_EQ(a.failures[0].id, "r1");
  EXPECT_EQ(a.failures[0].verdict, Verdict::kRefused);
  EXPECT_EQ(a.failures[0].type, "mapper_parsing_exception");
  EXPECT_EQ(a.failures[1].verdict, Verdict::kRetry);
  ASSERT_TRUE(parse_by_query_response(R"({"timed_out":true,"failures":[]})", a));
  EXPECT_TRUE(a.timed_out);
  EXPECT_FALSE(parse_by_query_response(R"({"acknowledged":true})", a));
  EXPECT_FALSE(parse_by_query_response("<html>", a));
  // A failure without a status is not understood: retried, never taken as refused.
  ASSERT_TRUE(parse_by_query_response(R"({"failures":[{"id":"x"}]})", a));
  EXPECT_EQ(a.failures[0].verdict, Verdict::kRetry);
}

TEST(BulkResponse, CutsTypesAndReasonsAtACharacterBoundary) {
  std::string reason(499, 'x');
  reason += "\xC3\xA9\xC3\xA9";  // é é across the 500-byte bound
  std::vector<BulkItemOutcome> out;
  ASSERT_TRUE(parse_bulk_response(
      R"({"items":[{"create":{"status":400,"error":{"type":"t","reason":")" + reason + "\"}}}]}", 1,
      out));
  EXPECT_EQ(out[0].reason.size(), 499u);
  EXPECT_EQ(out[0].verdict, Verdict::kRefused);
}

}  // namespace
}  // namespace verity::shippers
