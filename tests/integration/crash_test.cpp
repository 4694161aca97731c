// The durability contract under kill -9 at random moments: every event acknowledged (HTTP 200,
// sent after the commit) is in the store exactly once afterwards, also after a torn WAL tail, and
// every partition's hash chain still verifies.
// bench/ has the same loop as a soak that runs for as long as asked (verity-soak).

#include <gtest/gtest.h>

#include "crash_soak.h"
#include "server_process.h"

namespace verity::testing {
namespace {

TEST(CrashSafety, KillNineAtRandomMomentsLosesNoAcknowledgedEvent) {
  TempDir dir;
  SoakOptions o;
  o.iterations = 4;
  o.seed = 20261124;
  o.torn_tail = true;
  const SoakResult r = run_crash_soak(dir.path() / "data", o);
  EXPECT_EQ(r.iterations, 4);
  EXPECT_GT(r.acknowledged, 0u);
  EXPECT_EQ(r.lost, 0u) << "first lost: " << r.first_lost;
  EXPECT_EQ(r.duplicates, 0u);
  EXPECT_TRUE(r.chains_ok) << "hash chains after the kills: " << r.verify_report;
  EXPECT_GE(r.stored, r.acknowledged);  // requests cut off by the kill may have been stored too
}

}  // namespace
}  // namespace verity::testing
