// A real full disk: the server runs on a small tmpfs (tests/support/small_tmpfs.sh, in a private
// mount namespace) and is fed until the disk fills. Acknowledgments stop, /readyz and /metrics say
// why, the process stays up; once space returns the requests that were waiting commit, client
// retries are duplicates, every acknowledged event is readable, and the chain verifies.

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <future>
#include <random>
#include <thread>

#include "server_process.h"
#include "test_client.h"
#include "verity/app/http_client.h"

namespace verity::testing {
namespace {

using app::http_get;
using app::http_request;

// `n` predictions of about 700 bytes, with random hex in them so they compress like real traffic.
std::string batch(int index, int n, std::mt19937_64& rng) {
  std::string out;
  char hex[65];
  for (int i = 0; i < n; ++i) {
    for (int k = 0; k < 64; ++k) hex[k] = "0123456789abcdef"[rng() % 16];
    hex[64] = '\0';
    out += R"({"request_id":"b)" + std::to_string(index) + "-" + std::to_string(i) +
           R"(","@timestamp":"2026-11-20T10:30:00Z","model":"fraud","inputs":{"session":")" + hex +
           R"(","amount":)" + std::to_string(rng() % 100000) + R"(,"channel":"web","notes":")" +
           std::string(hex).substr(0, 48) + hex + R"("},"prediction":{"label":"legit","score":0.)" +
           std::to_string(rng() % 1000) + R"(},"explanations":{"trace":")" + hex + hex + hex +
           R"("}})"
           "\n";
  }
  return out;
}

TEST(DiskFull, ARealFullDiskStopsAcknowledgmentsAndNothingAcknowledgedIsLost) {
  TempDir dir;
  const auto data = dir.path() / "data";
  const auto grow = dir.path() / "grow";
  ServerProcess server(data, "store:\n  retry_interval: 200ms\nhttp:\n  retry_after: 1\n");
  server.set_wrapper({"sh", std::string(VERITY_SOURCE_DIR) + "/tests/support/small_tmpfs.sh", "40m",
                      data.string(), grow.string()});
  server.start();
  const std::string url = server.http_url() + "/v1/predictions";
  const std::vector<std::string> ndjson = {"Content-Type: application/x-ndjson"};

  std::mt19937_64 rng(7);
  std::vector<std::string> batches;
  std::vector<bool> acknowledged;
  std::vector<std::future<Result<app::HttpClientResponse>>> waiting;
  // Feed 2000-event batches until one is not answered within 5 s: the disk is full.
  for (int i = 0; i < 200 && waiting.empty(); ++i) {
    batches.push_back(batch(i, 2000, rng));
    auto f = std::async(std::launch::async, [&, body = batches.back()] {
      return http_request("POST", url, body, ndjson, 120'000);
    });
    if (f.wait_for(std::chrono::seconds(5)) == std::future_status::ready) {
      auto r = f.get();
      ASSERT_TRUE(r.is_ok()) << r.status().to_string();
      if (r->status == 503) {
        // The store already knows the disk is full: refused at once, with Retry-After, never
        // left hanging (nothing of it is acknowledged; the client sends it again later).
        EXPECT_FALSE(r->header("retry-after").empty());
        acknowledged.push_back(false);
        break;
      }
      ASSERT_EQ(r->status, 200) << r->body << server.log();
      acknowledged.push_back(true);
    } else {
      acknowledged.push_back(false);
      waiting.push_back(std::move(f));
    }
  }
  ASSERT_FALSE(waiting.empty()) << "40 MiB never filled up";
  ASSERT_GT(batches.size(), 3u);

  auto ready = http_get(server.http_url() + "/readyz");
  ASSERT_TRUE(ready.is_ok()) << "the server must stay up on a full disk:\n" << server.log();
  EXPECT_EQ(ready->status, 503);
  EXPECT_NE(ready->body.find("no space left"), std::string::npos) << ready->body;
  EXPECT_EQ(ready->body.find(dir.path().string()), std::string::npos) << "no path in /readyz";
  EXPECT_EQ(scrape(server.http_url(), "verity_store_writable"), 0);
  EXPECT_GT(scrape(server.http_url(), "verity_store_commit_failures_total"), 0);
  // Reads of prediction data stop too: a read that cannot be recorded in the read audit trail is
  // not served (503, saying why), and the server stays up.
  auto first = http_get(server.http_url() + "/v1/predictions/b0-0");
  ASSERT_TRUE(first.is_ok());
  EXPECT_EQ(first->status, 503) << first->body;
  EXPECT_NE(first->body.find("read_audit_unavailable"), std::string::npos) << first->body;

  std::ofstream(grow) << "space returns\n";
  for (auto& f : waiting) {
    auto r = f.get();
    ASSERT_TRUE(r.is_ok()) << r.status().to_string();
    EXPECT_EQ(r->status, 200) << r->body;
    EXPECT_NE(r->body.find("\"stored\":2000"), std::string::npos) << r->body;
  }
  // Space came back: reads are recorded, and served, again.
  auto again = http_get(server.http_url() + "/v1/predictions/b0-0");
  ASSERT_TRUE(again.is_ok());
  EXPECT_EQ(again->status, 200) << again->body;
  // A client retrying every batch gets duplicates only: nothing twice, nothing lost.
  uint64_t duplicates = 0;
  for (const auto& b : batches) {
    auto r = http_request("POST", url, b, ndjson, 120'000);
    ASSERT_TRUE(r.is_ok());
    ASSERT_EQ(r->status, 200) << r->body;
    EXPECT_NE(r->body.find("\"duplicates\":2000"), std::string::npos) << r->body;
    duplicates += 2000;
  }
  const double stored =
      scrape(server.http_url(), R"(verity_ingest_events_stored_total{input="http"})");
  EXPECT_EQ(stored, static_cast<double>(batches.size() * 2000));
  EXPECT_EQ(scrape(server.http_url(), R"(verity_ingest_events_duplicate_total{input="http"})"),
            static_cast<double>(duplicates));
  for (size_t i = 0; i < batches.size(); ++i) {
    for (const char* k : {"-0", "-1999"}) {
      auto r = http_get(server.http_url() + "/v1/predictions/b" + std::to_string(i) + k);
      ASSERT_TRUE(r.is_ok());
      EXPECT_EQ(r->status, 200) << "b" << i << k;
    }
  }
  auto verify = http_request("POST", server.http_url() + "/v1/verify", "");
  ASSERT_TRUE(verify.is_ok());
  EXPECT_EQ(verify->body.rfind("{\"ok\":true", 0), 0u) << verify->body;
  EXPECT_EQ(http_get(server.http_url() + "/readyz")->status, 200);
}

}  // namespace
}  // namespace verity::testing
