// A label log replayed, in any order, through the real binary: nothing changes but the received
// and duplicate counters (issue 13: each replay applied a wrong label and its correction again).

#include <gtest/gtest.h>

#include "server_process.h"
#include "test_client.h"
#include "verity/app/http_client.h"

namespace verity::testing {
namespace {

TEST(LabelReplay, ALabelLogReplayedInAnyOrderChangesNoMetric) {
  TempDir dir;
  ServerProcess server(dir.path() / "data");
  server.start();
  auto post = [&](const std::string& path, const std::string& body) {
    auto r = app::http_request("POST", server.http_url() + path, body, {}, 60'000);
    EXPECT_TRUE(r.is_ok());
    EXPECT_EQ(r->status, 200) << r->body;
  };
  std::string predictions, log;
  for (int i = 0; i < 50; ++i) {
    const std::string id = "r" + std::to_string(i);
    predictions += R"({"request_id":")" + id +
                   R"(","@timestamp":"2026-11-20T10:00:00Z","model":"fraud",)"
                   R"("prediction":{"label":"fraud","score":0.8}})"
                   "\n";
    // A wrong label, then its correction a day later (by label_time).
    log += R"({"request_id":")" + id +
           R"(","ground_truth":"legit","label_time":"2026-11-21T10:00:00Z"})"
           "\n";
    log += R"({"request_id":")" + id +
           R"(","ground_truth":"fraud","label_time":"2026-11-22T10:00:00Z"})"
           "\n";
  }
  post("/v1/predictions", predictions);
  post("/v1/labels", log);
  EXPECT_EQ(wait_for_metric(server.http_url(), "verity_labels_corrected_total", 50), 50);
  auto report = [&] {
    auto r =
        app::http_get(server.http_url() +
                      "/v1/models/fraud/metrics?from=2026-11-20T00:00:00Z&to=2026-11-21T00:00:00Z");
    EXPECT_TRUE(r.is_ok());
    return r.is_ok() ? r->body : "";
  };
  const std::string before = report();
  EXPECT_NE(before.find(R"("accuracy":1)"), std::string::npos) << before;
  EXPECT_NE(before.find(R"("label_lag_seconds_mean":86400)"), std::string::npos) << before;
  // The log again, forwards; then backwards (the correction first).
  post("/v1/labels", log);
  std::vector<std::string> lines;
  for (size_t at = 0; at < log.size();) {
    const size_t nl = log.find('\n', at);
    lines.push_back(log.substr(at, nl - at + 1));
    at = nl + 1;
  }
  std::string backwards;
  for (auto it = lines.rbegin(); it != lines.rend(); ++it) backwards += *it;
  post("/v1/labels", backwards);
  EXPECT_EQ(wait_for_metric(server.http_url(),
                            R"(verity_ingest_events_duplicate_total{input="http"})", 200),
            200);
  EXPECT_EQ(scrape(server.http_url(), "verity_labels_corrected_total"), 50);
  EXPECT_EQ(scrape(server.http_url(), "verity_labels_joined_total"), 50);
  EXPECT_EQ(report(), before);
  // The label in effect, and the one it corrected.
  auto got = app::http_get(server.http_url() + "/v1/predictions/r0");
  ASSERT_TRUE(got.is_ok());
  const size_t label = got->body.find(R"("label":{)");
  const size_t history = got->body.find(R"("label_history":[)");
  ASSERT_NE(label, std::string::npos) << got->body;
  ASSERT_NE(history, std::string::npos) << got->body;
  EXPECT_NE(got->body.find(R"("ground_truth":"fraud")", label), std::string::npos);
  EXPECT_NE(got->body.find(R"("ground_truth":"legit")", history), std::string::npos);
}

}  // namespace
}  // namespace verity::testing
