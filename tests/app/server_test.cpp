// The whole server in-process, with the store's file system failing as on a full disk: the
// condition shows in /readyz and /metrics, nothing is acknowledged while it lasts, and ingestion
// resumes (and the event is stored once) when space returns.

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <future>
#include <thread>

#include "verity/app/http_client.h"
#include "verity/app/server.h"
#include "wait.h"

namespace verity::app {
namespace {

namespace fs = std::filesystem;

std::string between(const std::string& s, const std::string& a, const std::string& b) {
  const size_t i = s.find(a);
  if (i == std::string::npos) return "";
  const size_t j = s.find(b, i + a.size());
  return s.substr(i + a.size(), j - i - a.size());
}

TEST(ServerDiskFull, ReadyzAndMetricsShowItAndIngestionResumesWhenSpaceReturns) {
  const fs::path dir =
      fs::temp_directory_path() / ("verity_server_test_" + std::to_string(getpid()));
  fs::remove_all(dir);
  auto config = parse_config("");
  ASSERT_TRUE(config.is_ok());
  Config c = std::move(config).value();
  c.data_dir = dir.string();
  c.tcp.listen = {"127.0.0.1", 0};
  c.beats.listen = {"127.0.0.1", 0};
  c.http.listen = {"127.0.0.1", 0};
  c.store.retry_interval = Duration(100);
  auto faults = std::make_shared<store::WriteFaults>();
  c.store.faults = faults;
  SystemClock clock;
  Server server(c, clock);
  ASSERT_TRUE(server.start().is_ok());
  const std::string base = "http://" + between(server.bound_addresses_json(), "\"http\":\"", "\"");
  std::thread runner([&] { server.run_until_stopped(); });

  const std::string line =
      R"({"request_id":"during","@timestamp":"2026-11-20T10:00:00Z","model":"m","inputs":{},"prediction":{"label":"a"}})"
      "\n";
  auto ready = http_get(base + "/readyz");
  ASSERT_TRUE(ready.is_ok());
  EXPECT_EQ(ready->status, 200);

  faults->no_space = true;
  auto posted = std::async(std::launch::async, [&] {
    return http_request("POST", base + "/v1/predictions", line, {}, 60'000);
  });
  // Poll (with a deadline) until the failed commit shows.
  std::string readyz, metrics;
  testing::wait_until(
      [&] {
        auto r = http_get(base + "/readyz");
        if (!r.is_ok() || r->status != 503) return false;
        readyz = r->body;
        return true;
      },
      std::chrono::seconds(30));
  EXPECT_NE(readyz.find("store not writable"), std::string::npos) << readyz;
  EXPECT_NE(readyz.find("space"), std::string::npos) << readyz;
  auto m = http_get(base + "/metrics");
  ASSERT_TRUE(m.is_ok());
  EXPECT_NE(m->body.find("\nverity_store_writable 0"), std::string::npos);
  EXPECT_EQ(posted.wait_for(std::chrono::milliseconds(300)), std::future_status::timeout)
      << "acknowledged while the disk was full";

  faults->no_space = false;
  auto answer = posted.get();
  ASSERT_TRUE(answer.is_ok()) << answer.status().to_string();
  EXPECT_EQ(answer->status, 200) << answer->body;
  EXPECT_NE(answer->body.find("\"stored\":1"), std::string::npos) << answer->body;
  ready = http_get(base + "/readyz");
  ASSERT_TRUE(ready.is_ok());
  EXPECT_EQ(ready->status, 200) << ready->body;
  m = http_get(base + "/metrics");
  EXPECT_NE(m->body.find("\nverity_store_writable 1"), std::string::npos);
  auto got = http_get(base + "/v1/predictions/during");
  ASSERT_TRUE(got.is_ok());
  EXPECT_EQ(got->status, 200);

  server.request_stop();
  runner.join();
  fs::remove_all(dir);
}

}  // namespace
}  // namespace verity::app
