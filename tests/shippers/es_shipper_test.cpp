// The shipper over a fake HTTP client and a fake clock: every outcome Elasticsearch can answer,
// poison records, and the gauges while it waits. The real binary against the strict fake
// Elasticsearch is tests/integration/es_shipper_test.cpp.

#include "verity/shippers/es_shipper.h"

#include <prometheus/registry.h>
#include <simdjson.h>

#include <gtest/gtest.h>

#include <deque>
#include <filesystem>
#include <functional>
#include <future>
#include <map>
#include <set>

#include "verity/shippers/dead_letter_encoder.h"
#include "verity/shippers/es_service.h"
#include "verity/shippers/request_builder.h"
#include "verity/store/store.h"

namespace verity::shippers {
namespace {

namespace fs = std::filesystem;

// Answers each call with the script's function; records every call (bodies gunzipped are not
// needed: gzip is off in these tests).
class FakeClient final : public HttpClient {
 public:
  using Script = std::function<Result<HttpAnswer>(const HttpCall&)>;
  explicit FakeClient(std::shared_ptr<std::vector<HttpCall>> calls, Script script)
      : calls_(std::move(calls)), script_(std::move(script)) {}
  Result<HttpAnswer> send(const HttpCall& call) override {
    calls_->push_back(call);
    return script_(call);
  }

 private:
  std::shared_ptr<std::vector<HttpCall>> calls_;
  Script script_;
};

// Advances the clock instead of waiting.
class FakeSleeper final : public Sleeper {
 public:
  explicit FakeSleeper(ManualClock& clock, std::shared_ptr<std::vector<Duration>> sleeps)
      : clock_(clock), sleeps_(std::move(sleeps)) {}
  bool sleep_for(Duration d) override {
    sleeps_->push_back(d);
    clock_.advance(d.count());
    return sleeps_->size() > 10'000;  // a test that loops for ever stops here
  }
  void stop() override {}

 private:
  ManualClock& clock_;
  std::shared_ptr<std::vector<Duration>> sleeps_;
};

HttpAnswer answer(long status, std::string body) {
  HttpAnswer a;
  a.status = status;
  a.body = std::move(body);
  return a;
}

// A bulk answer with `status` for every item of the request.
HttpAnswer bulk_answer(const HttpCall& call, const std::function<int(const std::string& id)>& of) {
  std::string items;
  simdjson::dom::parser p;
  size_t start = 0;
  bool action = true;
  while (start < call.body.size()) {
    const size_t end = call.body.find('\n', start);
    const std::string line = call.body.substr(start, end - start);
    start = end + 1;
    if (!action) {
      action = true;
      continue;
    }
    action = false;
    simdjson::dom::element e = p.parse(line);
    const std::string id{std::string_view(e["create"]["_id"])};
    const int s = of(id);
    if (!items.empty()) items += ',';
    items += R"({"create":{"_id":")" + id + R"(","status":)" + std::to_string(s);
    if (s >= 400) items += R"(,"error":{"type":"mapper_parsing_exception","reason":"bad field"})";
    items += "}}";
  }
  return answer(200, R"({"took":1,"errors":false,"items":[)" + items + "]}");
}

size_t count_items(const std::string& bulk_body) {
  return static_cast<size_t>(std::count(bulk_body.begin(), bulk_body.end(), '\n')) / 2;
}

class EsShipperTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("verity_shipper_test_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    store::StoreOptions o;
    o.data_dir = dir_.string();
    o.outbox = true;
    o.retention.check_interval = Duration(0);
    store_ = std::move(store::Store::open(o, clock_, registry_)).value();
  }
  void TearDown() override {
    shipper_.reset();
    store_.reset();
    fs::remove_all(dir_);
  }

  store::CommitResult commit(store::IngestBatch b) {
    std::promise<store::CommitResult> p;
    store_->submit(std::move(b), [&](const store::CommitResult& r) { p.set_value(r); });
    return p.get_future().get();
  }
  void store_predictions(const std::vector<std::pair<std::string, std::string>>& id_docs) {
    store::IngestBatch b;
    b.input = "test";
    for (const auto& [id, doc] : id_docs) {
      Event e;
      e.request_id = id;
      e.timestamp_ms = 1795170600000;
      e.model_name = "m";
      e.document = doc;
      b.events.push_back(std::move(e));
    }
    ASSERT_EQ(commit(std::move(b)).stored, id_docs.size());
  }
  void store_label(const std::string& id, const std::string& doc) {
    store::IngestBatch b;
    b.input = "test";
    Event e;
    e.kind = EventKind::kLabel;
    e.request_id = id;
    e.timestamp_ms = 1795170700000;
    e.document = doc;
    b.events.push_back(std::move(e));
    ASSERT_EQ(commit(std::move(b)).stored, 1u);
  }

  void make_shipper(FakeClient::Script script,
                    const std::function<void(EsShipperOptions&)>& tweak = nullptr) {
    EsShipperOptions o;
    o.hosts = {"http://es:9200"};
    o.gzip = false;
    o.flush_interval = Duration(0);
    if (tweak) tweak(o);
    shipper_ = std::make_unique<EsShipper>(*store_, o, clock_, registry_, nullptr,
                                           std::make_unique<FakeClient>(calls_, std::move(script)),
                                           std::make_unique<FakeSleeper>(clock_, sleeps_));
  }
  // Ships until the outbox is empty (at most `rounds` batches).
  void drain(int rounds = 20) {
    for (int i = 0; i < rounds && store_->outbox_backlog().events > 0; ++i) shipper_->ship_once();
    EXPECT_EQ(store_->outbox_backlog().events, 0u);
  }
  // Commits `n` rejects (missing_field, with a masked document); their sequences.
  std::vector<uint64_t> store_rejects(int n, const std::string& input = "tcp") {
    store::IngestBatch b;
    b.input = input;
    for (int i = 0; i < n; ++i) {
      Reject rj;
      rj.type = "missing_field";
      rj.reason = "line " + std::to_string(i + 1) + ": /request_id (request id) is required";
      rj.line = static_cast<uint64_t>(i + 1);
      rj.document = R"({"who":"hmac:0123456789abcdef01234567"})";
      rj.raw_length = 40;
      b.rejects.push_back(std::move(rj));
    }
    const uint64_t first = store_->stats().next_sequence;
    EXPECT_EQ(commit(std::move(b)).rejects_written, static_cast<uint32_t>(n));
    std::vector<uint64_t> seqs;
    for (int i = 0; i < n; ++i) seqs.push_back(first + static_cast<uint64_t>(i));
    return seqs;
  }
  // Ships until neither the outbox nor the dead letters have anything (at most `rounds` steps).
  void drain_all(int rounds = 50) {
    for (int i = 0; i < rounds && shipper_->ship_once(); ++i) {
    }
    EXPECT_EQ(store_->outbox_backlog().events, 0u);
    EXPECT_EQ(store_->dead_letter_checkpoint(), store_->stats().next_sequence);
  }
  // The _ids of every create sent, in order.
  std::vector<std::string> created_ids() const {
    std::vector<std::string> ids;
    simdjson::dom::parser p;
    for (const auto& c : *calls_) {
      if (c.url.find("/_bulk") == std::string::npos) continue;
      size_t start = 0;
      bool action = true;
      while (start < c.body.size()) {
        const size_t end = c.body.find('\n', start);
        if (action) {
          simdjson::dom::element e = p.parse(c.body.substr(start, end - start));
          ids.emplace_back(std::string_view(e["create"]["_id"]));
        }
        action = !action;
        start = end + 1;
      }
    }
    return ids;
  }
  std::vector<std::string> dead_letter_types() {
    std::vector<std::string> out;
    const std::vector<std::string> letters = store_->dead_letters(0, 1000).value();
    for (const auto& d : letters) {
      simdjson::dom::parser p;
      out.emplace_back(std::string_view(p.parse(d)["type"]));
    }
    return out;
  }
  std::vector<std::string> paths() const {
    std::vector<std::string> out;
    for (const auto& c : *calls_) out.push_back(c.url.substr(std::string("http://es:9200").size()));
    return out;
  }
  double metric(const std::string& name, const std::map<std::string, std::string>& labels = {}) {
    for (const auto& fam : registry_.Collect()) {
      if (fam.name != name) continue;
      for (const auto& m : fam.metric) {
        std::map<std::string, std::string> got;
        for (const auto& l : m.label) got[l.name] = l.value;
        if (got != labels) continue;
        return fam.type == prometheus::MetricType::Counter ? m.counter.value : m.gauge.value;
      }
    }
    return -1;
  }

  fs::path dir_;
  ManualClock clock_{1795170600000};
  prometheus::Registry registry_;
  std::unique_ptr<store::Store> store_;
  std::shared_ptr<std::vector<HttpCall>> calls_ = std::make_shared<std::vector<HttpCall>>();
  std::shared_ptr<std::vector<Duration>> sleeps_ = std::make_shared<std::vector<Duration>>();
  std::unique_ptr<EsShipper> shipper_;
};

// A step reads a batch per worker; when every request of it is retried, the retries still go in
// requests within batch_events and batch_bytes (one request of them all broke both limits, and a
// request too big to answer in time would time out again and again).
TEST(RequestQueueTest, RetriesAreSentWithinTheSameLimits) {
  struct Sized {
    size_t n;
    size_t bytes() const { return n; }
  };
  std::vector<Sized> items(10, Sized{100});
  items[7].n = 450;
  std::vector<Sized*> all;
  for (auto& it : items) all.push_back(&it);
  RequestQueue<Sized> q(all, 3, 500);
  std::vector<size_t> first;
  while (!q.round_done()) {
    auto chunk = q.take();
    first.push_back(chunk.size());
    q.retry(chunk);  // every request failed
  }
  EXPECT_EQ(first, (std::vector<size_t>{3, 3, 1, 1, 2}));
  q.next_round();
  std::vector<size_t> again;
  size_t retried = 0;
  while (!q.round_done()) {
    auto chunk = q.take();
    size_t bytes = 0;
    for (auto* it : chunk) bytes += it->bytes();
    EXPECT_LE(chunk.size(), 3u);
    EXPECT_TRUE(bytes <= 500 || chunk.size() == 1) << bytes;
    retried += chunk.size();
    again.push_back(chunk.size());
  }
  EXPECT_EQ(retried, items.size());
  EXPECT_EQ(again, first);  // the same order, the same cuts
  EXPECT_TRUE(q.done());
}

TEST_F(EsShipperTest, APoisonRecordIsDeadLetteredAndTheRestDelivered) {
  // A stored document that is not JSON (an older version's bug, a hand-edited store) can never be
  // indexed: it is dead-lettered at once, without a request, and never blocks the batch.
  store_predictions({{"good-1", R"({"a":1})"}, {"poison", "{\"a\":"}, {"good-2", R"({"a":2})"}});
  size_t delivered = 0;
  make_shipper([&](const HttpCall& c) {
    delivered += count_items(c.body);
    return bulk_answer(c, [](const std::string&) { return 201; });
  });
  drain();
  EXPECT_EQ(delivered, 2u);
  EXPECT_EQ(dead_letter_types(), std::vector<std::string>{"unshippable_record"});
  EXPECT_EQ(metric("verity_shipper_dead_lettered_total"), 1);
}

TEST_F(EsShipperTest, ATinyNumericLabelNeverTakesTheShipperDown) {
  // The crash of issue 13: std::stod("4e-320") throws out_of_range in the label's error field.
  store_predictions({{"reg1", R"({"prediction":{"value":2.5}})"}});
  make_shipper([&](const HttpCall& c) {
    if (c.url.find("_bulk") != std::string::npos) {
      return Result<HttpAnswer>(bulk_answer(c, [](const std::string&) { return 201; }));
    }
    return Result<HttpAnswer>(answer(200, R"({"timed_out":false,"updated":1,"failures":[]})"));
  });
  drain();
  store_label("reg1", R"({"request_id":"reg1","ground_truth":4e-320})");
  drain();
  ASSERT_FALSE(calls_->empty());
  const HttpCall& update = calls_->back();
  EXPECT_NE(update.url.find("/logs-verity.predictions-default/_update_by_query"),
            std::string::npos);
  EXPECT_NE(update.body.find(R"("error":2.5)"), std::string::npos) << update.body;
  EXPECT_TRUE(dead_letter_types().empty());
}

TEST_F(EsShipperTest, ALabelUpdateRefusedForGoodIsDeadLetteredAndLaterDocumentsFlow) {
  store_predictions({{"r1", R"({"prediction":{"label":"a"}})"}});
  int updates = 0;
  make_shipper([&](const HttpCall& c) {
    if (c.url.find("_update_by_query") != std::string::npos) {
      ++updates;
      return Result<HttpAnswer>(answer(
          400, R"({"error":{"type":"script_exception","reason":"compile error"},"status":400})"));
    }
    if (c.url.find("_refresh") != std::string::npos) return Result<HttpAnswer>(answer(200, "{}"));
    return Result<HttpAnswer>(bulk_answer(c, [](const std::string&) { return 201; }));
  });
  drain();
  store_label("r1", R"({"request_id":"r1","ground_truth":"b"})");
  store_predictions({{"r2", R"({"prediction":{"label":"a"}})"}});
  drain();
  EXPECT_EQ(updates, 1);  // one request, one item: refused for good, not retried
  EXPECT_EQ(dead_letter_types(), std::vector<std::string>{"elasticsearch_script_exception"});
  EXPECT_EQ(metric("verity_shipper_by_query_requests_total",
                   {{"request", "update_by_query"}, {"outcome", "refused"}}),
            1);
  // r2 went out, and the checkpoint moved past the refused label.
  EXPECT_TRUE(std::any_of(calls_->begin(), calls_->end(), [](const HttpCall& c) {
    return c.body.find("\"_id\":\"r2\"") != std::string::npos;
  }));
}

TEST_F(EsShipperTest, ByQueryFailuresDeadLetterTheNamedDocumentsAndResendTheRest) {
  store_predictions({{"a", R"({"prediction":{"label":"x"}})"},
                     {"b", R"({"prediction":{"label":"x"}})"},
                     {"c", R"({"prediction":{"label":"x"}})"}});
  std::vector<std::string> update_bodies;
  make_shipper([&](const HttpCall& c) {
    if (c.url.find("_update_by_query") != std::string::npos) {
      update_bodies.push_back(c.body);
      if (c.body.find("\"b\"") != std::string::npos) {
        return Result<HttpAnswer>(
            answer(200, R"({"timed_out":false,"failures":[{"id":"b","status":400,)"
                        R"("cause":{"type":"mapper_parsing_exception","reason":"x"}}]})"));
      }
      return Result<HttpAnswer>(answer(200, R"({"timed_out":false,"failures":[]})"));
    }
    if (c.url.find("_refresh") != std::string::npos) return Result<HttpAnswer>(answer(200, "{}"));
    return Result<HttpAnswer>(bulk_answer(c, [](const std::string&) { return 201; }));
  });
  drain();
  store::IngestBatch labels;
  labels.input = "test";
  for (const char* id : {"a", "b", "c"}) {
    Event e;
    e.kind = EventKind::kLabel;
    e.request_id = id;
    e.timestamp_ms = 1795170700000;
    e.document = R"({"ground_truth":"y"})";
    labels.events.push_back(std::move(e));
  }
  ASSERT_EQ(commit(std::move(labels)).stored, 3u);
  drain();
  ASSERT_EQ(update_bodies.size(), 2u);  // all three, then a and c again (Elasticsearch stops at
                                        // the first failure: the others may not be applied)
  EXPECT_EQ(update_bodies[1].find("\"b\""), std::string::npos);
  EXPECT_NE(update_bodies[1].find("\"a\""), std::string::npos);
  EXPECT_EQ(dead_letter_types(),
            std::vector<std::string>{"elasticsearch_mapper_parsing_exception"});
}

TEST_F(EsShipperTest, VersionConflictsAndTimeoutsAreRetriedWithBackoff) {
  store_predictions({{"a", R"({"prediction":{"label":"x"}})"}});
  int n = 0;
  make_shipper([&](const HttpCall& c) {
    if (c.url.find("_delete_by_query") != std::string::npos) {
      switch (n++) {
        case 0:
          return Result<HttpAnswer>(answer(
              200,
              R"({"failures":[{"id":"a","status":409,"cause":{"type":"version_conflict"}}]})"));
        case 1:
          return Result<HttpAnswer>(answer(200, R"({"timed_out":true,"failures":[]})"));
        case 2:
          return Result<HttpAnswer>(Status::unavailable("connection refused"));
        default:
          return Result<HttpAnswer>(answer(200, R"({"deleted":1,"failures":[]})"));
      }
    }
    if (c.url.find("_refresh") != std::string::npos) return Result<HttpAnswer>(answer(200, "{}"));
    return Result<HttpAnswer>(bulk_answer(c, [](const std::string&) { return 201; }));
  });
  drain();
  store::EraseRequest erase;
  erase.needles = {"x"};
  erase.matches = [](std::string_view) { return true; };
  erase.actor = "test";
  ASSERT_TRUE(store_->erase(erase).is_ok());
  sleeps_->clear();
  drain();
  EXPECT_EQ(n, 4);
  EXPECT_EQ(sleeps_->size(), 3u);
  EXPECT_TRUE(dead_letter_types().empty());
  EXPECT_EQ(metric("verity_shipper_erasures_total"), 1);
}

TEST_F(EsShipperTest, AWholeBulkRequestRefusedIsHalvedUntilTheCulpritIsAlone) {
  std::vector<std::pair<std::string, std::string>> docs;
  for (int i = 0; i < 8; ++i) docs.emplace_back("d" + std::to_string(i), R"({"a":1})");
  store_predictions(docs);
  std::vector<size_t> sizes;
  make_shipper([&](const HttpCall& c) {
    sizes.push_back(count_items(c.body));
    if (c.body.find("\"_id\":\"d5\"") != std::string::npos) {
      return Result<HttpAnswer>(
          answer(400, R"({"error":{"type":"parse_exception","reason":"bad"},"status":400})"));
    }
    return Result<HttpAnswer>(bulk_answer(c, [](const std::string&) { return 201; }));
  });
  drain();
  EXPECT_EQ(sizes, (std::vector<size_t>{8, 4, 4, 2, 1, 1, 2}));  // 8: d0-7; d0-3; d4-7; d4-5;
                                                                 // d4; d5 (dead); d6-7
  EXPECT_EQ(dead_letter_types(), std::vector<std::string>{"elasticsearch_parse_exception"});
}

TEST_F(EsShipperTest, ItemOutcomesAreRetriedDeliveredOrDeadLettered) {
  store_predictions({{"ok", R"({"a":1})"},
                     {"again", R"({"a":1})"},
                     {"bad", R"({"a":1})"},
                     {"there", R"({"a":1})"}});
  int again = 0;
  make_shipper([&](const HttpCall& c) {
    return bulk_answer(c, [&](const std::string& id) {
      if (id == "again") return again++ == 0 ? 429 : 201;
      if (id == "bad") return 400;
      if (id == "there") return 409;
      return 201;
    });
  });
  drain();
  EXPECT_EQ(calls_->size(), 2u);
  EXPECT_EQ(count_items(calls_->back().body), 1u);  // only the 429 item again
  EXPECT_EQ(dead_letter_types(),
            std::vector<std::string>{"elasticsearch_mapper_parsing_exception"});
  EXPECT_EQ(metric("verity_shipper_items_total", {{"status", "409"}}), 1);
}

TEST_F(EsShipperTest, LagAndBacklogMoveWhileElasticsearchIsDown) {
  store_predictions({{"a", R"({"a":1})"}});
  make_shipper([](const HttpCall&) { return Result<HttpAnswer>(Status::unavailable("down")); });
  shipper_->update_gauges();
  EXPECT_EQ(metric("verity_shipper_backlog", {{"unit", "events"}}), 1);
  const double lag0 = metric("verity_shipper_lag_seconds");
  clock_.advance(60'000);
  shipper_->update_gauges();
  EXPECT_DOUBLE_EQ(metric("verity_shipper_lag_seconds"), lag0 + 60);
}

TEST_F(EsShipperTest, UnauthorizedPausesWithoutDroppingAnything) {
  store_predictions({{"a", R"({"a":1})"}});
  int n = 0;
  make_shipper([&](const HttpCall& c) {
    if (n++ < 2) return Result<HttpAnswer>(answer(401, R"({"error":"unauthorized"})"));
    return Result<HttpAnswer>(bulk_answer(c, [](const std::string&) { return 201; }));
  });
  drain();
  EXPECT_EQ(n, 3);
  EXPECT_EQ(metric("verity_shipper_paused"), 0);
  EXPECT_EQ(metric("verity_shipper_bulk_requests_total", {{"outcome", "unauthorized"}}), 2);
  EXPECT_TRUE(dead_letter_types().empty());
}

}  // namespace
}  // namespace verity::shippers

namespace verity::shippers {
namespace {

TEST_F(EsShipperTest, DeadLettersAreForwardedOnceFromTheirOwnCheckpoint) {
  const auto seqs = store_rejects(3);
  make_shipper(
      [&](const HttpCall& c) { return bulk_answer(c, [](const std::string&) { return 201; }); });
  shipper_->update_gauges();
  EXPECT_EQ(metric("verity_shipper_dead_letters_backlog"), 3);
  drain_all();
  ASSERT_EQ(calls_->size(), 1u);
  const std::string& body = calls_->front().body;
  EXPECT_NE(body.find(R"({"create":{"_index":"logs-verity.deadletters-default","_id":"dl-)" +
                      std::to_string(seqs[0]) + "\"}}"),
            std::string::npos)
      << body;
  EXPECT_NE(body.find(R"("error":{"type":"missing_field","message":"line 1: /request_id)"),
            std::string::npos)
      << body;
  EXPECT_NE(body.find(R"("event":{"original":"{\"who\":\"hmac:0123456789abcdef01234567\"}")"),
            std::string::npos)
      << body;
  EXPECT_EQ(store_->dead_letter_checkpoint(), seqs[2] + 1);
  EXPECT_EQ(metric("verity_shipper_dead_letters_total", {{"outcome", "forwarded"}}), 3);
  shipper_->update_gauges();
  EXPECT_EQ(metric("verity_shipper_dead_letters_backlog"), 0);
  EXPECT_FALSE(shipper_->ship_once()) << "nothing left: no request";
  EXPECT_EQ(calls_->size(), 1u);
  EXPECT_EQ(store_->dead_letters(0, 100).value().size(), 3u) << "forwarded entries are kept";
}

TEST_F(EsShipperTest, DeadLettersRefusedForGoodAreCountedNeverDeadLetteredAgain) {
  const auto seqs = store_rejects(4);
  const std::string bad = dead_letter_id(seqs[1]), there = dead_letter_id(seqs[2]);
  int requests = 0;
  make_shipper([&](const HttpCall& c) {
    ++requests;
    // A whole request refused: halved until the culprit (the last one) is alone.
    if (c.body.find(dead_letter_id(seqs[3])) != std::string::npos) {
      return Result<HttpAnswer>(
          answer(400, R"({"error":{"type":"parse_exception","reason":"bad"},"status":400})"));
    }
    return Result<HttpAnswer>(bulk_answer(c, [&](const std::string& id) {
      if (id == bad) return 400;
      if (id == there) return 409;  // sent before a crash: delivered
      return 201;
    }));
  });
  drain_all();
  EXPECT_EQ(metric("verity_shipper_dead_letters_total", {{"outcome", "refused"}}), 2);
  EXPECT_EQ(metric("verity_shipper_dead_letters_total", {{"outcome", "forwarded"}}), 2);
  EXPECT_EQ(metric("verity_shipper_dead_lettered_total"), 0);
  EXPECT_EQ(store_->dead_letters(0, 100).value().size(), 4u) << "no dead letter of a dead letter";
  EXPECT_EQ(store_->dead_letter_checkpoint(), seqs[3] + 1);
  // All four (refused whole); the first two (one refused item); the last two (refused whole);
  // the third alone (there); the fourth alone (refused).
  EXPECT_EQ(requests, 5);
}

TEST_F(EsShipperTest, DeadLettersWaitThroughAnOutageAndNothingIsLost) {
  const auto seqs = store_rejects(5);
  int n = 0;
  make_shipper([&](const HttpCall& c) {
    if (n++ < 3) return Result<HttpAnswer>(Status::unavailable("connection refused"));
    return Result<HttpAnswer>(bulk_answer(c, [](const std::string&) { return 201; }));
  });
  EXPECT_TRUE(shipper_->ship_once());
  EXPECT_EQ(sleeps_->size(), 3u) << "the predictions' backoff, not a loop of its own";
  EXPECT_EQ(calls_->size(), 4u);
  EXPECT_EQ(count_items(calls_->back().body), 5u);
  EXPECT_EQ(store_->dead_letter_checkpoint(), seqs[4] + 1);
  EXPECT_EQ(metric("verity_shipper_dead_letters_total", {{"outcome", "forwarded"}}), 5);
  EXPECT_EQ(metric("verity_shipper_bulk_requests_total", {{"outcome", "retryable"}}), 3);
}

TEST_F(EsShipperTest, PredictionsComeFirstAndDeadLettersTakeOnlyTheRoomLeft) {
  std::vector<std::pair<std::string, std::string>> docs;
  for (int i = 0; i < 25; ++i) docs.emplace_back("p" + std::to_string(i), R"({"a":1})");
  store_predictions(docs);
  const auto dl = store_rejects(30);
  make_shipper(
      [&](const HttpCall& c) { return bulk_answer(c, [](const std::string&) { return 201; }); },
      [](EsShipperOptions& o) { o.batch_events = 10; });
  ASSERT_TRUE(shipper_->ship_once());
  // A full batch of predictions, then a tenth of a batch of dead letters (here one).
  std::vector<std::string> ids = created_ids();
  ASSERT_EQ(ids.size(), 11u);
  for (int i = 0; i < 10; ++i) EXPECT_EQ(ids[i], "p" + std::to_string(i));
  EXPECT_EQ(ids[10], dead_letter_id(dl[0]));
  for (const auto& c : *calls_) EXPECT_LE(count_items(c.body), 10u);
  ASSERT_TRUE(shipper_->ship_once());  // 10 more predictions, 1 more dead letter
  ASSERT_TRUE(shipper_->ship_once());  // 5 predictions, and the room they leave: 5 dead letters
  ids = created_ids();
  ASSERT_EQ(ids.size(), 32u);
  EXPECT_EQ(ids[21], dead_letter_id(dl[1]));
  EXPECT_EQ(ids[26], "p24");
  EXPECT_EQ(ids[27], dead_letter_id(dl[2]));
  EXPECT_EQ(ids[31], dead_letter_id(dl[6]));
  drain_all();
  ids = created_ids();
  EXPECT_EQ(ids.size(), 55u);
  EXPECT_EQ(std::set<std::string>(ids.begin(), ids.end()).size(), 55u) << "each once";
  EXPECT_EQ(metric("verity_shipper_dead_letters_total", {{"outcome", "forwarded"}}), 30);
}

TEST_F(EsShipperTest, TheShippersOwnDeadLettersAreForwardedToo) {
  store_predictions({{"good", R"({"a":1})"}, {"poison", "{\"a\":"}});
  make_shipper(
      [&](const HttpCall& c) { return bulk_answer(c, [](const std::string&) { return 201; }); });
  drain_all();
  ASSERT_EQ(dead_letter_types(), std::vector<std::string>{"unshippable_record"});
  ASSERT_EQ(calls_->size(), 2u);
  const std::string& body = calls_->back().body;
  EXPECT_NE(body.find(R"("input":"es_shipper")"), std::string::npos) << body;
  EXPECT_NE(body.find(R"("error":{"type":"unshippable_record")"), std::string::npos) << body;
  EXPECT_EQ(metric("verity_shipper_dead_letters_total", {{"outcome", "forwarded"}}), 1);
}

TEST_F(EsShipperTest, DeadLettersTrimmedBeforeTheyWereForwardedAreCountedAndPassedOver) {
  const auto old = store_rejects(3);
  make_shipper(
      [&](const HttpCall& c) { return bulk_answer(c, [](const std::string&) { return 201; }); });
  // Elasticsearch was down for longer than dead_letters.retention (30 days by default).
  clock_.advance(31ll * 86'400'000);
  const auto fresh = store_rejects(2);
  ASSERT_TRUE(store_->run_maintenance().is_ok());
  shipper_->update_gauges();
  EXPECT_EQ(metric("verity_shipper_dead_letters_total", {{"outcome", "trimmed"}}), 3);
  EXPECT_GE(store_->dead_letter_checkpoint(), old[2] + 1);
  drain_all();
  std::vector<std::string> ids = created_ids();
  EXPECT_EQ(ids, (std::vector<std::string>{dead_letter_id(fresh[0]), dead_letter_id(fresh[1])}));
  shipper_->update_gauges();
  EXPECT_EQ(metric("verity_shipper_dead_letters_total", {{"outcome", "trimmed"}}), 3);
  EXPECT_EQ(metric("verity_shipper_dead_letters_backlog"), 0);
}

TEST_F(EsShipperTest, DeadLettersOffLeavesThemInTheStore) {
  store_rejects(2);
  make_shipper(
      [&](const HttpCall& c) { return bulk_answer(c, [](const std::string&) { return 201; }); },
      [](EsShipperOptions& o) { o.dead_letters = false; });
  EXPECT_FALSE(shipper_->ship_once());
  EXPECT_TRUE(calls_->empty());
  EXPECT_EQ(store_->dead_letter_checkpoint(), 1u);
}

TEST_F(EsShipperTest, DeadLettersGoToDatedIndicesOfTheirIngestDay) {
  store_rejects(1);
  make_shipper(
      [&](const HttpCall& c) { return bulk_answer(c, [](const std::string&) { return 201; }); },
      [](EsShipperOptions& o) { o.index_mode = IndexMode::kDated; });
  drain_all();
  ASSERT_EQ(calls_->size(), 1u);
  EXPECT_NE(calls_->front().body.find(R"("_index":"verity-deadletters-2026.11.20")"),
            std::string::npos)
      << calls_->front().body;
}

}  // namespace
}  // namespace verity::shippers
