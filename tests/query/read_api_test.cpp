#include "verity/query/read_api.h"

#include <gtest/gtest.h>
#include <prometheus/registry.h>

#include <filesystem>
#include <future>

#include "verity/store/store.h"

namespace verity::query {
namespace {

namespace fs = std::filesystem;

class ReadApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("verity_read_api_" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    store::StoreOptions o;
    o.data_dir = dir_.string();
    store_ = std::move(store::Store::open(o, clock_, registry_)).value();
  }
  void TearDown() override {
    store_.reset();
    fs::remove_all(dir_);
  }
  void put(Event e) {
    store::IngestBatch b;
    b.input = "tcp";
    b.events.push_back(std::move(e));
    std::promise<void> p;
    store_->submit(std::move(b), [&](const store::CommitResult& r) {
      ASSERT_EQ(r.stored, 1u);
      p.set_value();
    });
    p.get_future().wait();
  }
  HttpResponse get(const std::string& path) {
    HttpRequest req;
    req.method = "GET";
    req.path = path;
    return ReadApi(*store_).get_prediction(req);
  }

  fs::path dir_;
  ManualClock clock_{1795000000000};
  prometheus::Registry registry_;
  std::unique_ptr<store::Store> store_;
};

TEST_F(ReadApiTest, AbsentIs404JsonError) {
  auto res = get("/v1/predictions/nope");
  EXPECT_EQ(res.status, 404);
  EXPECT_EQ(
      res.body,
      R"({"error":{"root_cause":[{"type":"not_found","reason":"no prediction is stored under this request id"}],)"
      R"("type":"not_found","reason":"no prediction is stored under this request id"},"status":404})");
}

TEST_F(ReadApiTest, OversizedIdIs400) {
  EXPECT_EQ(get("/v1/predictions/" + std::string(300, 'x')).status, 400);
}

TEST_F(ReadApiTest, PredictionWithItsLabel) {
  Event p;
  p.request_id = "r1";
  p.timestamp_ms = 1763634600000;
  p.model_name = "fraud";
  p.document = R"({"request_id":"r1","prediction":{"label":"fraud"}})";
  put(p);
  auto res = get("/v1/predictions/r1");
  ASSERT_EQ(res.status, 200);
  EXPECT_NE(res.body.find(R"("document":{"request_id":"r1","prediction":{"label":"fraud"}})"),
            std::string::npos)
      << res.body;
  EXPECT_EQ(res.body.find("\"label\":{"), std::string::npos);

  Event l;
  l.kind = EventKind::kLabel;
  l.request_id = "r1";
  l.timestamp_ms = 1763634700000;
  l.document = R"({"request_id":"r1","ground_truth":"legit"})";
  put(l);
  res = get("/v1/predictions/r1");
  ASSERT_EQ(res.status, 200);
  EXPECT_NE(res.body.find(R"("label":{"request_id":"r1","kind":"label")"), std::string::npos)
      << res.body;
  EXPECT_NE(res.body.find(R"("ground_truth":"legit")"), std::string::npos);
}

}  // namespace
}  // namespace verity::query
