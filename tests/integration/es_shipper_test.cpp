// The Elasticsearch shipper against a strict fake Elasticsearch (tests/support/fake_es.h), with
// the real binary: an outage then recovery, mixed per-item failures, 413 splitting, kill -9 in the
// middle of a batch, a 401 pause, credentials and gzip. Every stored prediction must arrive exactly
// once in effect (one document per _id), and nothing may be dropped.

#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <thread>

#include "fake_es.h"
#include "server_process.h"
#include "test_client.h"
#include "verity/app/http_client.h"

namespace verity::testing {
namespace {

std::string config_for(const FakeElasticsearch& es, const std::string& extra = "") {
  return "outputs:\n  elasticsearch:\n    hosts: [" + es.url() +
         "]\n    flush_interval: 200ms\n    initial_backoff: 50ms\n    max_backoff: 500ms\n" +
         extra;
}

void send(const ServerProcess& server, const std::string& prefix, int n) {
  std::string body;
  for (int i = 0; i < n; ++i) body += prediction_line(prefix + std::to_string(i)) + "\n";
  auto r = app::http_request("POST", server.http_url() + "/v1/predictions", body, {}, 60'000);
  ASSERT_TRUE(r.is_ok());
  ASSERT_EQ(r->status, 200) << r->body;
}

// Documents in the fake, dead letters (forwarded to their own data stream) apart.
size_t prediction_count(const FakeElasticsearch& es) {
  size_t n = 0;
  for (const auto& [key, doc] : es.documents()) {
    n += key.find("deadletters") == std::string::npos ? 1 : 0;
  }
  return n;
}

// Polls until the fake holds `n` documents besides dead letters (or 60 s pass); the count seen
// last.
size_t wait_for_documents(const FakeElasticsearch& es, size_t n) {
  wait_until([&] { return prediction_count(es) >= n; });
  return prediction_count(es);
}

TEST(EsShipper, AnOutageOnlyGrowsTheBacklogWhichDrainsWithoutLossOrDuplicates) {
  FakeElasticsearch es;
  es.go_down();
  TempDir dir;
  ServerProcess server(dir.path() / "data", config_for(es));
  server.start();
  send(server, "out-", 3000);
  EXPECT_EQ(wait_for_metric(server.http_url(), R"(verity_shipper_backlog{unit="events"})", 3000),
            3000);
  EXPECT_GE(wait_for_at_least(server.http_url(),
                              R"(verity_shipper_bulk_requests_total{outcome="retryable"})", 2),
            2);
  es.come_back();
  EXPECT_EQ(wait_for_documents(es, 3000), 3000u);
  EXPECT_EQ(wait_for_metric(server.http_url(), R"(verity_shipper_backlog{unit="events"})", 0), 0);
  const auto st = es.stats();
  EXPECT_EQ(st.item_status.at(201), 3000u);
  EXPECT_EQ(st.item_status.count(409), 0u) << "nothing was sent twice after it was delivered";
  auto doc = es.documents().at("logs-verity.predictions-default/out-7");
  EXPECT_NE(doc.find("\"@timestamp\":\"2026-11-20T10:30:00.000Z\""), std::string::npos) << doc;
  EXPECT_NE(doc.find("\"verity\":{\"request_id\":\"out-7\""), std::string::npos) << doc;
  EXPECT_GT(st.gzip_requests, 0u);
}

TEST(EsShipper, RetriesOnlyFailedItemsAndDeadLettersRefusedOnes) {
  FakeElasticsearch es;
  es.fail_item("mix-3", 429, 2);
  es.fail_item("mix-5", 500, 1);
  es.fail_item("mix-8", 400, 1);
  es.fail_item("mix-9", 404, 1);
  es.fail_requests(503, 2);  // then the whole request fails: 503, then 429
  es.fail_requests(429, 1);
  TempDir dir;
  ServerProcess server(dir.path() / "data", config_for(es));
  server.start();
  send(server, "mix-", 20);
  EXPECT_EQ(wait_for_metric(server.http_url(), "verity_shipper_dead_lettered_total", 2), 2);
  EXPECT_EQ(wait_for_documents(es, 18), 18u);
  EXPECT_EQ(wait_for_metric(server.http_url(), R"(verity_shipper_backlog{unit="events"})", 0), 0);
  // The two dead letters are forwarded too, to their own data stream (input es_shipper).
  EXPECT_EQ(wait_for_metric(server.http_url(),
                            R"(verity_shipper_dead_letters_total{outcome="forwarded"})", 2),
            2);
  size_t forwarded = 0;
  for (const auto& [key, doc] : es.documents()) {
    if (key.rfind("logs-verity.deadletters-default/dl-", 0) != 0) continue;
    ++forwarded;
    EXPECT_NE(doc.find(R"("input":"es_shipper")"), std::string::npos) << doc;
    EXPECT_NE(doc.find(R"("type":"elasticsearch_)"), std::string::npos) << doc;
  }
  EXPECT_EQ(forwarded, 2u);
  const auto st = es.stats();
  EXPECT_EQ(st.item_status.at(201), 20u);  // 18 predictions, 2 dead letters
  EXPECT_EQ(st.item_status.at(429), 2u);
  EXPECT_EQ(st.item_status.at(500), 1u);
  EXPECT_EQ(st.request_status.at(503), 2u);
  EXPECT_EQ(st.request_status.at(429), 1u);
  EXPECT_GE(scrape(server.http_url(), R"(verity_shipper_bulk_requests_total{outcome="retryable"})"),
            3);
  // Only the failed items were sent again: 20 first, then mix-3 twice and mix-5 once more; then
  // the two dead letters.
  uint64_t items = 0;
  for (const auto& [status, n] : st.item_status) items += n;
  EXPECT_EQ(items, 25u);
  EXPECT_EQ(es.documents().count("logs-verity.predictions-default/mix-8"), 0u);
}

TEST(EsShipper, TooLargeRequestsAreSplit) {
  FakeElasticsearch es;
  es.set_max_body(64 * 1024);
  TempDir dir;
  ServerProcess server(dir.path() / "data", config_for(es));
  server.start();
  send(server, "big-", 1000);
  EXPECT_EQ(wait_for_documents(es, 1000), 1000u);
  const auto st = es.stats();
  EXPECT_GT(st.request_status.at(413), 0u);
  EXPECT_LE(st.largest_body, 64u * 1024);
  EXPECT_EQ(st.item_status.at(201), 1000u);
  EXPECT_GT(scrape(server.http_url(), R"(verity_shipper_bulk_requests_total{outcome="too_large"})"),
            0);
}

TEST(EsShipper, KillNineInTheMiddleOfABatchResendsItAsConflictsNotDuplicates) {
  FakeElasticsearch es;
  es.set_delay(std::chrono::milliseconds(1500));
  TempDir dir;
  ServerProcess server(dir.path() / "data", config_for(es));
  server.start();
  send(server, "kill-", 2000);
  // The first batch is in the fake (stored, answer delayed) when the server dies.
  ASSERT_TRUE(wait_until([&] { return es.document_count() > 0; }, std::chrono::seconds(30)));
  server.kill9();
  es.set_delay(std::chrono::milliseconds(0));
  server.start();
  EXPECT_EQ(wait_for_documents(es, 2000), 2000u);
  EXPECT_EQ(wait_for_metric(server.http_url(), R"(verity_shipper_backlog{unit="events"})", 0), 0);
  const auto st = es.stats();
  EXPECT_GT(st.item_status.at(409), 0u) << "the batch in flight was sent again";
  EXPECT_EQ(st.item_status.at(201), 2000u);
}

TEST(EsShipper, RefusedCredentialsPauseShippingWithoutDroppingAnything) {
  FakeElasticsearch es;
  es.require_authorization("Basic dmVyaXR5OnJpZ2h0LXBhc3N3b3Jk");  // verity:right-password
  TempDir dir;
  ServerProcess server(dir.path() / "data",
                       config_for(es, "    username: verity\n    password: wrong-password\n"));
  server.start();
  send(server, "auth-", 50);
  EXPECT_EQ(wait_for_metric(server.http_url(), "verity_shipper_paused", 1), 1);
  auto ready = app::http_get(server.http_url() + "/readyz");
  ASSERT_TRUE(ready.is_ok());
  EXPECT_EQ(ready->status, 503);
  EXPECT_NE(ready->body.find("credentials refused"), std::string::npos) << ready->body;
  EXPECT_EQ(es.document_count(), 0u);
  EXPECT_NE(server.log().find("shipping paused"), std::string::npos);

  es.require_authorization("");  // the cluster's side was fixed
  EXPECT_EQ(wait_for_documents(es, 50), 50u);
  EXPECT_EQ(wait_for_metric(server.http_url(), "verity_shipper_paused", 0), 0);
}

TEST(EsShipper, SendsAnApiKeyAndFailsOverToTheNextHost) {
  FakeElasticsearch es;
  es.require_authorization("ApiKey aWQ6c2VjcmV0");
  TempDir dir;
  // The first host refuses connections; the second is the fake.
  ServerProcess server(dir.path() / "data",
                       "outputs:\n  elasticsearch:\n    hosts: [http://127.0.0.1:1, " + es.url() +
                           "]\n    api_key: aWQ6c2VjcmV0\n    flush_interval: 200ms\n"
                           "    initial_backoff: 50ms\n    max_backoff: 500ms\n");
  server.start();
  send(server, "key-", 10);
  EXPECT_EQ(wait_for_documents(es, 10), 10u);
  EXPECT_EQ(es.stats().request_status.count(401), 0u);
}

TEST(EsShipper, SendsCredentialsAndDatedIndices) {
  FakeElasticsearch es;
  es.require_authorization("Basic dmVyaXR5OnJpZ2h0LXBhc3N3b3Jk");
  TempDir dir;
  ServerProcess server(dir.path() / "data",
                       config_for(es,
                                  "    username: verity\n    password: right-password\n"
                                  "    index_mode: dated\n    gzip: false\n"));
  server.start();
  send(server, "dated-", 10);
  EXPECT_EQ(wait_for_documents(es, 10), 10u);
  EXPECT_EQ(es.documents().count("verity-predictions-2026.11.20/dated-4"), 1u);
  EXPECT_EQ(es.stats().gzip_requests, 0u);
}

TEST(EsShipper, AnErasureDeletesTheCopiesAlreadyInElasticsearch) {
  FakeElasticsearch es;
  TempDir dir;
  ServerProcess server(dir.path() / "data", config_for(es));
  server.start();
  std::string body;
  for (int i = 0; i < 20; ++i) {
    body += R"({"request_id":"e-)" + std::to_string(i) +
            R"(","@timestamp":"2026-11-20T10:30:00Z","model":"fraud","user_id":")" +
            (i % 2 ? "subject-42" : "someone-else") + R"(","prediction":{"label":"ok"}})" + "\n";
  }
  auto r = app::http_request("POST", server.http_url() + "/v1/predictions", body, {}, 60'000);
  ASSERT_TRUE(r.is_ok());
  ASSERT_EQ(wait_for_documents(es, 20), 20u);
  auto erased = run_command(std::string(VERITY_BINARY) + " erase --subject subject-42 --server " +
                            server.http_url());
  ASSERT_EQ(erased.exit_code, 0) << erased.output;
  EXPECT_EQ(wait_for_metric(server.http_url(), "verity_shipper_erasures_total", 10), 10);
  EXPECT_EQ(es.document_count(), 10u);
  for (const auto& [key, doc] : es.documents()) {
    EXPECT_EQ(doc.find("subject-42"), std::string::npos) << key;
  }
  EXPECT_EQ(wait_for_metric(server.http_url(), R"(verity_shipper_backlog{unit="events"})", 0), 0);
}

// Labels reach the indexed prediction as "label": {ground_truth, label_time, predicted, correct |
// error}, whether they come after the prediction was indexed (an update), before the prediction was
// even stored (carried by its create), or as a correction.
TEST(EsShipper, LabelsLandOnTheirPredictionsWhateverTheOrder) {
  FakeElasticsearch es;
  TempDir dir;
  ServerProcess server(dir.path() / "data", config_for(es));
  server.start();
  auto post = [&](const std::string& path, const std::string& body) {
    auto r = app::http_request("POST", server.http_url() + path, body, {}, 60'000);
    ASSERT_TRUE(r.is_ok());
    ASSERT_EQ(r->status, 200) << r->body;
  };
  // A label that beats its prediction.
  post("/v1/labels",
       R"({"request_id":"early","ground_truth":"fraud","@timestamp":"2026-11-21T08:00:00Z"})"
       "\n");
  post(
      "/v1/predictions",
      R"({"request_id":"early","@timestamp":"2026-11-20T10:30:00Z","model":"fraud","prediction":{"label":"fraud","score":0.9}})"
      "\n"
      R"({"request_id":"late","@timestamp":"2026-11-20T10:31:00Z","model":"fraud","prediction":{"label":"legit","score":0.2}})"
      "\n"
      R"({"request_id":"price","@timestamp":"2026-11-20T10:32:00Z","model":"pricing","prediction":{"value":12.5}})"
      "\n");
  ASSERT_EQ(wait_for_documents(es, 3), 3u);
  const std::string ds = "logs-verity.predictions-default/";
  auto doc = [&](const std::string& id) { return es.documents().at(ds + id); };
  EXPECT_NE(
      doc("early").find(
          R"("label":{"ground_truth":"fraud","label_time":"2026-11-21T08:00:00.000Z","predicted":"fraud","correct":true,"accuracy":1})"),
      std::string::npos)
      << doc("early");
  // Polls until the indexed document holds `text` (or 60 s pass); the document seen last.
  auto wait_for = [&](const std::string& id, const std::string& text) {
    std::string d;
    wait_until([&] {
      d = doc(id);
      return d.find(text) != std::string::npos;
    });
    return d;
  };
  // Labels after the predictions were indexed: a wrong one, then its correction; a regression.
  post("/v1/labels",
       R"({"request_id":"late","ground_truth":"fraud","@timestamp":"2026-11-22T08:00:00Z"})"
       "\n"
       R"({"request_id":"price","ground_truth":10,"@timestamp":"2026-11-22T08:00:00Z"})"
       "\n");
  const std::string wrong = wait_for("late", R"("correct":false)");
  EXPECT_NE(
      wrong.find(
          R"("ground_truth":"fraud","label_time":"2026-11-22T08:00:00.000Z","predicted":"legit","correct":false,"accuracy":0})"),
      std::string::npos)
      << wrong;
  const std::string price = wait_for(
      "price",
      R"("ground_truth":10,"label_time":"2026-11-22T08:00:00.000Z","predicted":"12.5","error":2.5,"abs_error":2.5,"squared_error":6.25})");
  EXPECT_NE(price.find(R"("error":2.5)"), std::string::npos) << price;
  post("/v1/labels",
       R"({"request_id":"late","ground_truth":"legit","@timestamp":"2026-11-23T08:00:00Z"})"
       "\n");
  const std::string corrected = wait_for(
      "late",
      R"("ground_truth":"legit","label_time":"2026-11-23T08:00:00.000Z","predicted":"legit","correct":true,"accuracy":1})");
  EXPECT_NE(corrected.find(R"("correct":true)"), std::string::npos) << corrected;
  // Elasticsearch holds the update before the shipper has read its answer and counted it.
  EXPECT_TRUE(wait_until([&] {
    return scrape(server.http_url(), "verity_shipper_labels_total") >= 3;
  })) << "labels shipped: "
      << scrape(server.http_url(), "verity_shipper_labels_total");
  EXPECT_NE(doc("late").find(R"("document":{"request_id":"late")"), std::string::npos)
      << "the update keeps the document";
  EXPECT_EQ(es.document_count(), 3u);
}

// Issue 13: one label ended the process (std::stod threw on 4e-320 in the shipper's label
// update), and since the label stayed in the outbox every restart died the same way. Now the
// label's fields are written without it, the process stays up across restarts, and what follows
// is delivered.
TEST(EsShipper, ALabelNoDoubleCanHoldNeverTakesTheServerDown) {
  FakeElasticsearch es;
  TempDir dir;
  ServerProcess server(dir.path() / "data", config_for(es));
  server.start();
  auto post = [&](const std::string& path, const std::string& body) {
    auto r = app::http_request("POST", server.http_url() + path, body, {}, 60'000);
    ASSERT_TRUE(r.is_ok());
    ASSERT_EQ(r->status, 200) << r->body;
  };
  post(
      "/v1/predictions",
      R"({"request_id":"reg1","@timestamp":"2026-11-20T10:30:00Z","model":"pricing","prediction":{"value":4.5}})"
      "\n");
  ASSERT_EQ(wait_for_documents(es, 1), 1u);
  post("/v1/labels", R"({"request_id":"reg1","ground_truth":4e-320})"
                     "\n");
  EXPECT_EQ(wait_for_metric(server.http_url(), "verity_shipper_labels_total", 1), 1);
  ASSERT_TRUE(server.running());
  EXPECT_EQ(server.terminate(), 0);
  server.start();
  post(
      "/v1/predictions",
      R"({"request_id":"after","@timestamp":"2026-11-20T10:31:00Z","model":"pricing","prediction":{"value":1}})"
      "\n");
  EXPECT_EQ(wait_for_documents(es, 2), 2u);
  EXPECT_NE(es.documents().at("logs-verity.predictions-default/reg1").find(R"("error":4.5)"),
            std::string::npos);
  EXPECT_TRUE(server.running());
  EXPECT_EQ(server.terminate(), 0);
}

// A label update Elasticsearch refuses for good is dead-lettered with its reason; a by-query
// answer that lists a failure dead-letters that document; neither blocks what follows.
TEST(EsShipper, RefusedLabelUpdatesAreDeadLetteredAndNeverBlockTheOutbox) {
  FakeElasticsearch es;
  TempDir dir;
  ServerProcess server(dir.path() / "data", config_for(es));
  server.start();
  auto post = [&](const std::string& path, const std::string& body) {
    auto r = app::http_request("POST", server.http_url() + path, body, {}, 60'000);
    ASSERT_TRUE(r.is_ok());
    ASSERT_EQ(r->status, 200) << r->body;
  };
  post(
      "/v1/predictions",
      R"({"request_id":"a","@timestamp":"2026-11-20T10:30:00Z","model":"m","prediction":{"label":"x"}})"
      "\n"
      R"({"request_id":"b","@timestamp":"2026-11-20T10:30:00Z","model":"m","prediction":{"label":"x"}})"
      "\n");
  ASSERT_EQ(wait_for_documents(es, 2), 2u);
  es.fail_by_query(400, 1);
  post("/v1/labels", R"({"request_id":"a","ground_truth":"y"})"
                     "\n");
  EXPECT_EQ(wait_for_metric(server.http_url(), "verity_shipper_dead_lettered_total", 1), 1);
  es.fail_by_query(200, 1, "b");
  post("/v1/labels", R"({"request_id":"b","ground_truth":"y"})"
                     "\n");
  EXPECT_EQ(wait_for_metric(server.http_url(), "verity_shipper_dead_lettered_total", 2), 2);
  post(
      "/v1/predictions",
      R"({"request_id":"c","@timestamp":"2026-11-20T10:30:00Z","model":"m","prediction":{"label":"x"}})"
      "\n");
  EXPECT_EQ(wait_for_documents(es, 3), 3u);
  EXPECT_EQ(wait_for_metric(server.http_url(), R"(verity_shipper_backlog{unit="events"})", 0), 0);
  EXPECT_EQ(es.stats().by_query_refused, 2u);
  EXPECT_NE(server.log().find("written to the dead-letter store"), std::string::npos)
      << server.log();
  EXPECT_NE(server.log().find("elasticsearch_script_exception"), std::string::npos);
}

TEST(EsSetup, InstallsIlmAndTemplatesIdempotentlyAndMirrorsTheTiers) {
  FakeElasticsearch es;
  auto run = [](const std::string& args) {
    return run_command(std::string(VERITY_BINARY) + " es setup " + args);
  };
  auto first = run("--es-url " + es.url() + "/");
  ASSERT_EQ(first.exit_code, 0) << first.output;
  EXPECT_EQ(first.output,
            "ILM policy verity-predictions: created\n"
            "ILM policy verity-predictions-dated: created\n"
            "component template verity-predictions-settings: created\n"
            "component template verity-predictions-mappings: created\n"
            "component template verity-deadletters-mappings: created\n"
            "index template verity-predictions: created\n"
            "index template verity-predictions-dated: created\n"
            "index template verity-deadletters: created\n"
            "index template verity-deadletters-dated: created\n");
  EXPECT_EQ(es.setup_puts(), 9u);
  auto again = run("--es-url " + es.url());
  ASSERT_EQ(again.exit_code, 0) << again.output;
  EXPECT_EQ(again.output.find("created"), std::string::npos) << again.output;
  EXPECT_EQ(again.output.find("updated"), std::string::npos) << again.output;
  EXPECT_EQ(es.setup_puts(), 9u) << "nothing is written when nothing changed";

  TempDir dir;
  const auto config = dir.path() / "verity.yaml";
  std::ofstream(config) << "store:\n  tiers:\n    warm: {after: 3d}\n  delete_after: 400d\n"
                        << "outputs:\n  elasticsearch:\n    hosts: [" << es.url() << "]\n";
  auto changed = run("--config " + config.string());
  ASSERT_EQ(changed.exit_code, 0) << changed.output;
  EXPECT_NE(changed.output.find("ILM policy verity-predictions: updated"), std::string::npos)
      << changed.output;
  EXPECT_NE(changed.output.find("index template verity-predictions: unchanged"), std::string::npos);
  const std::string policy = es.setup_objects().at("/_ilm/policy/verity-predictions");
  EXPECT_NE(policy.find(R"("warm":{"min_age":"3d")"), std::string::npos) << policy;
  EXPECT_NE(policy.find(R"("delete":{"min_age":"400d")"), std::string::npos) << policy;

  auto none = run("");
  EXPECT_EQ(none.exit_code, 2);
  EXPECT_NE(none.output.find("no Elasticsearch host"), std::string::npos) << none.output;
  auto down = run("--es-url http://127.0.0.1:1");
  EXPECT_EQ(down.exit_code, 3);
}

}  // namespace
}  // namespace verity::testing
