// HTTP ingest against the real binary: /v1/predictions, /v1/labels, the Elasticsearch-compatible
// API with raw bodies for its edge cases, backpressure, and authentication.

#include <gtest/gtest.h>

#include <atomic>
#include <regex>
#include <thread>

#include "gzip.h"
#include "server_process.h"
#include "test_client.h"
#include "verity/app/http_client.h"

namespace verity::testing {
namespace {

using app::http_request;

const std::vector<std::string> kNdjson = {"Content-Type: application/x-ndjson"};

std::string stored_series(const std::string& input) {
  return R"(verity_ingest_events_stored_total{input=")" + input + "\"}";
}

TEST(HttpIngest, PredictionsAreAnsweredAfterCommitWithPerLineErrors) {
  TempDir dir;
  ServerProcess server(dir.path() / "data", "http: {max_body: 64KiB}");
  server.start();
  const std::string url = server.http_url() + "/v1/predictions";
  const std::string body = prediction_line("h-1") + "\nnot json\n" + R"({"request_id":"h-x"})" +
                           "\n\n" + prediction_line("h-2") + "\r\n" + prediction_line("h-3");
  auto res = http_request("POST", url, body, kNdjson);
  ASSERT_TRUE(res.is_ok());
  ASSERT_EQ(res->status, 200) << res->body;
  EXPECT_EQ(res->body,
            R"~({"received":5,"stored":3,"duplicates":0,"dead_lettered":0,"rejected":2,"errors":[)~"
            R"~({"line":2,"type":"invalid_json","reason":"line 2: invalid JSON (Problem while )~"
            R"~(parsing an atom starting with the letter 'n')"},{"line":3,"type":"missing_field",)~"
            R"~("reason":"line 3: missing required field timestamp (looked at /@timestamp, )~"
            R"~(/timestamp)"}]})~"
            "\n");
  // The answer came after the commit: every stored line is readable at once.
  for (const char* id : {"h-1", "h-2", "h-3"}) {
    auto got = app::http_get(server.http_url() + "/v1/predictions/" + id);
    EXPECT_EQ(got->status, 200) << id;
    EXPECT_NE(got->body.find("\"input\":\"http\""), std::string::npos);
  }

  // gzip bodies; a replay is a duplicate; a different document under a stored id is a conflict.
  std::string conflict = prediction_line("h-2");
  conflict.replace(conflict.find("0.91"), 4, "0.15");
  auto gz =
      http_request("POST", url, compress(prediction_line("h-1") + "\n" + conflict + "\n", true),
                   {"Content-Encoding: gzip"});
  ASSERT_EQ(gz->status, 200) << gz->body;
  EXPECT_EQ(gz->body,
            R"({"received":2,"stored":0,"duplicates":1,"dead_lettered":1,"rejected":0,"errors":[)"
            R"({"line":2,"type":"duplicate_conflict","reason":"line 2: a different document is )"
            R"(already stored under this request id; this one was dead-lettered"}]})"
            "\n");

  // Nothing accepted: 400 with the same shape. Corrupt gzip: 400. Too large: 413.
  auto bad = http_request("POST", url, "{}\n", kNdjson);
  EXPECT_EQ(bad->status, 400);
  EXPECT_NE(bad->body.find("\"not_an_object\"") == std::string::npos
                ? bad->body.find("\"missing_field\"")
                : std::string::npos,
            std::string::npos)
      << bad->body;
  auto corrupt = http_request("POST", url, "not gzip at all", {"Content-Encoding: gzip"});
  EXPECT_EQ(corrupt->status, 400);
  EXPECT_NE(corrupt->body.find("parse_exception"), std::string::npos);
  auto big = http_request("POST", url, std::string(70 * 1024, ' '), kNdjson);
  EXPECT_EQ(big->status, 413);
  // A small gzip body that inflates past max_body is refused the same way.
  auto bomb = http_request("POST", url, compress(std::string(1 << 20, ' '), true),
                           {"Content-Encoding: gzip"});
  EXPECT_EQ(bomb->status, 413) << bomb->body;
  auto empty = http_request("POST", url, "", kNdjson);
  EXPECT_EQ(empty->status, 400);
  EXPECT_EQ(scrape(server.http_url(), stored_series("http")), 3);
}

// curl sends `Expect: 100-continue` before bodies over 1 MiB and waits (a second) for the interim
// answer: the server gives it before the body is sent, and answers 413 without it when the
// declared length is over max_body.
TEST(HttpIngest, ExpectContinueIsAnsweredBeforeTheBody) {
  TempDir dir;
  ServerProcess server(dir.path() / "data", "http: {max_body: 64KiB}");
  server.start();
  const std::string body = prediction_line("c-1") + "\n";
  TcpClient c(server.http());
  c.send(
      "POST /v1/predictions HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-ndjson\r\n"
      "Expect: 100-continue\r\nContent-Length: " +
      std::to_string(body.size()) + "\r\n\r\n");
  const std::string interim = "HTTP/1.1 100 Continue\r\n\r\n";
  EXPECT_EQ(c.read_exactly(interim.size(), std::chrono::milliseconds(5000)), interim);
  c.send(body);
  auto head = c.read_exactly(15, std::chrono::milliseconds(10000));
  EXPECT_EQ(head, "HTTP/1.1 200 OK");

  TcpClient big(server.http());
  big.send(
      "POST /v1/predictions HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n"
      "Content-Length: 1000000\r\n\r\n");
  EXPECT_EQ(big.read_exactly(12, std::chrono::milliseconds(5000)), "HTTP/1.1 413");
}

TEST(HttpIngest, LabelsEndpointTakesLabelsOnly) {
  TempDir dir;
  ServerProcess server(dir.path() / "data");
  server.start();
  auto p = http_request("POST", server.http_url() + "/v1/predictions", prediction_line("l-1"));
  ASSERT_EQ(p->status, 200) << p->body;
  auto res = http_request("POST", server.http_url() + "/v1/labels",
                          R"({"request_id":"l-1","ground_truth":"fraud"})"
                          "\n" +
                              prediction_line("l-2") + "\n");
  ASSERT_EQ(res->status, 200) << res->body;
  EXPECT_NE(res->body.find(R"("stored":1)"), std::string::npos) << res->body;
  EXPECT_NE(res->body.find(R"({"line":2,"type":"not_a_label")"), std::string::npos) << res->body;
  auto got = app::http_get(server.http_url() + "/v1/predictions/l-1");
  EXPECT_NE(got->body.find(R"("label":{)"), std::string::npos) << got->body;
  EXPECT_EQ(app::http_get(server.http_url() + "/v1/predictions/l-2")->status, 404);
}

TEST(HttpIngest, BackpressureAnswers429WithRetryAfterAndLosesNothing) {
  TempDir dir;
  ServerProcess server(dir.path() / "data", "store: {sync: always, max_queue_bytes: 1}");
  server.start();
  constexpr int kThreads = 8, kRequests = 25, kLines = 40;
  std::atomic<int> throttled{0}, retry_after_ok{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int r = 0; r < kRequests; ++r) {
        std::string body;
        for (int i = 0; i < kLines; ++i) {
          body += prediction_line("bp-" + std::to_string(t) + "-" + std::to_string(r) + "-" +
                                  std::to_string(i)) +
                  "\n";
        }
        for (;;) {  // a client that honours 429 by retrying
          auto res = http_request("POST", server.http_url() + "/v1/predictions", body);
          if (!res.is_ok()) continue;
          if (res->status == 200) break;
          ASSERT_EQ(res->status, 429) << res->body;
          ++throttled;
          if (res->header("retry-after") == "1") ++retry_after_ok;
          std::this_thread::sleep_for(std::chrono::milliseconds(5));  // a client's back-off
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_GT(throttled.load(), 0);
  EXPECT_EQ(retry_after_ok.load(), throttled.load());
  EXPECT_EQ(scrape(server.http_url(), stored_series("http")), kThreads * kRequests * kLines);
  EXPECT_EQ(scrape(server.http_url(), R"(verity_ingest_events_received_total{input="http"})"),
            kThreads * kRequests * kLines);
}

std::string bulk(const ServerProcess& s, const std::string& path, const std::string& body,
                 long* status = nullptr) {
  auto res = http_request("POST", s.http_url() + path, body, kNdjson);
  if (!res.is_ok()) return "unreachable";
  if (status != nullptr) *status = res->status;
  // "took" is a duration: compare answers with it zeroed.
  return std::regex_replace(res->body, std::regex(R"("took":[0-9]+)"), R"("took":0)");
}

std::string doc(const std::string& id) { return prediction_line(id) + "\n"; }

TEST(ElasticsearchApi, BulkFollowsElasticsearchRules) {
  TempDir dir;
  ServerProcess server(dir.path() / "data");
  server.start();
  long status = 0;
  // Items in request order; index and create store; delete and update are refused per item;
  // a bad document fails alone.
  std::string conflict = prediction_line("e-1");
  conflict.replace(conflict.find("0.91"), 4, "0.33");
  const std::string body = R"({"index":{"_index":"logs","_id":"a"}})"
                           "\n" +
                           doc("e-1") + R"({"create":{}})" + "\n" + doc("e-2") +
                           R"({"delete":{"_id":"e-1"}})" + "\n" + R"({"update":{"_id":"e-1"}})" +
                           "\n" + R"({"doc":{}})" + "\n" + R"({"create":{}})" + "\n" +
                           R"({"no":"id"})" + "\n" + R"({"create":{}})" + "\n" + doc("e-1") +
                           R"({"create":{}})" + "\n" + conflict + "\n";
  EXPECT_EQ(
      bulk(server, "/preds/_bulk", body, &status),
      R"({"took":0,"errors":true,"items":[)"
      R"({"index":{"_index":"logs","_id":"a","_version":1,"result":"created","_shards":{"total":1,"successful":1,"failed":0},"status":201}},)"
      R"({"create":{"_index":"preds","_id":"e-2","_version":1,"result":"created","_shards":{"total":1,"successful":1,"failed":0},"status":201}},)"
      R"~({"delete":{"_index":"preds","_id":"e-1","status":400,"error":{"type":"illegal_argument_exception","reason":"line 5: the [delete] action is not supported: Verity is an append-only store (use index or create)"}}},)~"
      R"~({"update":{"_index":"preds","_id":"e-1","status":400,"error":{"type":"illegal_argument_exception","reason":"line 6: the [update] action is not supported: Verity is an append-only store (use index or create)"}}},)~"
      R"~({"create":{"_index":"preds","_id":null,"status":400,"error":{"type":"document_parsing_exception","reason":"line 9: missing required field request_id (looked at /request_id, /prediction_id, /inference_id, /id)"}}},)~"
      R"({"create":{"_index":"preds","_id":"e-1","_version":1,"result":"created","_shards":{"total":1,"successful":1,"failed":0},"status":201}},)"
      R"({"create":{"_index":"preds","_id":"e-1","status":409,"error":{"type":"version_conflict_engine_exception","reason":"[e-1]: version conflict, a different document is already stored under this request id; this one was dead-lettered"}}}]})");
  EXPECT_EQ(status, 200);
  EXPECT_EQ(app::http_get(server.http_url() + "/v1/predictions/e-2")->status, 200);

  // Whole-request errors, as Elasticsearch answers them.
  auto error_type = [&](const std::string& path, const std::string& b) {
    long st = 0;
    const std::string r = bulk(server, path, b, &st);
    EXPECT_EQ(st, 400) << r;
    const size_t at = r.find("\"type\":\"");
    return at == std::string::npos ? r : r.substr(at + 8, r.find('"', at + 8) - at - 8);
  };
  EXPECT_EQ(error_type("/x/_bulk", R"({"create":{}})"
                                   "\n" +
                                       prediction_line("nl")),
            "illegal_argument_exception");  // no final newline
  EXPECT_EQ(error_type("/_bulk", R"({"create":{}})"
                                 "\n" +
                                     doc("noindex")),
            "action_request_validation_exception");  // no index anywhere
  EXPECT_EQ(error_type("/x/_bulk", "[1]\n"), "illegal_argument_exception");
  EXPECT_EQ(error_type("/x/_bulk", R"({"frobnicate":{}})"
                                   "\n"),
            "illegal_argument_exception");
  EXPECT_EQ(error_type("/x/_bulk", R"({"create":{}})"
                                   "\n"),
            "illegal_argument_exception");  // an action without its source
  EXPECT_EQ(error_type("/x/_bulk", ""), "parse_exception");
  EXPECT_EQ(app::http_get(server.http_url() + "/v1/predictions/nl")->status, 404);

  // Idempotent replays answer 201; filter_path trims the answer as Filebeat asks; gzip bodies.
  EXPECT_EQ(bulk(server, "/x/_bulk?filter_path=errors,items.*.error,items.*.status",
                 R"({"create":{}})"
                 "\n" +
                     doc("e-2")),
            R"({"errors":false,"items":[{"create":{"status":201}}]})");
  auto gz = http_request("POST", server.http_url() + "/x/_bulk",
                         compress(R"({"create":{}})"
                                  "\n" +
                                      doc("e-gz"),
                                  true),
                         {"Content-Encoding: gzip", "Content-Type: application/x-ndjson"});
  EXPECT_EQ(gz->status, 200);
  EXPECT_NE(gz->body.find(R"("errors":false)"), std::string::npos) << gz->body;
  EXPECT_EQ(gz->header("x-elastic-product"), "Elasticsearch");
  EXPECT_EQ(app::http_get(server.http_url() + "/v1/predictions/e-gz")->status, 200);
}

TEST(ElasticsearchApi, IdentifiesAsElasticsearchAndAnswersSetupCalls) {
  TempDir dir;
  ServerProcess server(dir.path() / "data");
  server.start();
  const std::string u = server.http_url();
  auto root = http_request("GET", u + "/");
  ASSERT_EQ(root->status, 200);
  EXPECT_EQ(root->header("x-elastic-product"), "Elasticsearch");
  EXPECT_NE(root->body.find(R"("number":"8.15.0")"), std::string::npos);
  EXPECT_NE(root->body.find(R"("tagline":"You Know, for Search")"), std::string::npos);
  auto head = http_request("HEAD", u + "/");
  EXPECT_EQ(head->status, 200);
  EXPECT_EQ(head->header("x-elastic-product"), "Elasticsearch");
  auto license = http_request("GET", u + "/_license");
  EXPECT_NE(license->body.find(R"("status":"active")"), std::string::npos);
  // Errors carry no product header (Elasticsearch sends it on 2xx).
  EXPECT_EQ(http_request("GET", u + "/nope")->header("x-elastic-product"), "");

  // What Filebeat's elasticsearch output does at start: look for its ILM policy and template,
  // create them when missing, and check again.
  for (const std::string path :
       {"/_ilm/policy/filebeat", "/_index_template/filebeat-8.15.0",
        "/_component_template/logs-settings", "/_template/old", "/_data_stream/logs-app-default"}) {
    EXPECT_EQ(http_request("HEAD", u + path)->status, 404) << path;
    EXPECT_EQ(http_request("GET", u + path)->status, 404) << path;
    auto put = http_request("PUT", u + path, R"({"policy":{"phases":{}}})",
                            {"Content-Type: application/json"});
    EXPECT_EQ(put->status, 200) << path << put->body;
    EXPECT_EQ(put->body, R"({"acknowledged":true})");
    EXPECT_EQ(http_request("HEAD", u + path)->status, 200) << path;
    auto get = http_request("GET", u + path);
    EXPECT_EQ(get->status, 200);
    // Data streams answer with their own description; the others return what was PUT.
    const bool stream = path.rfind("/_data_stream/", 0) == 0;
    EXPECT_NE(get->body.find(stream ? R"("name":"logs-app-default")" : R"("phases":{})"),
              std::string::npos)
        << path << get->body;
  }
  auto policy = http_request("GET", u + "/_ilm/policy/filebeat");
  EXPECT_EQ(policy->body, R"({"filebeat":{"version":1,"modified_date":"2026-01-01T00:00:00.000Z",)"
                          R"("policy":{"phases":{}}}})");
  EXPECT_EQ(http_request("PUT", u + "/_index_template/t", "not json")->status, 400);
  EXPECT_EQ(http_request("DELETE", u + "/_template/old")->status, 200);
  EXPECT_EQ(http_request("GET", u + "/_template/old")->status, 404);
}

// Without authentication (a loopback server on its defaults) a page elsewhere still cannot make
// the browser next to it erase or ingest; GETs and non-browser clients are unaffected.
TEST(Auth, CrossSiteBrowserWritesAreRefusedEvenWithoutAuthentication) {
  TempDir dir;
  ServerProcess server(dir.path() / "data");
  server.start();
  const std::string u = server.http_url();
  auto forged = http_request(
      "POST", u + "/v1/erase", R"({"subject":"u-42"})",
      {"Content-Type: text/plain", "Origin: https://evil.example", "Sec-Fetch-Site: cross-site"});
  EXPECT_EQ(forged->status, 403) << forged->body;
  forged = http_request("POST", u + "/v1/predictions", prediction_line("x-1") + "\n",
                        {"Origin: http://localhost.evil.example"});
  EXPECT_EQ(forged->status, 403) << forged->body;
  EXPECT_EQ(http_request("GET", u + "/v1/predictions/x-1")->status, 404);
  EXPECT_EQ(http_request("POST", u + "/v1/predictions", prediction_line("x-2") + "\n")->status,
            200);
  EXPECT_EQ(http_request("GET", u + "/v1/predictions/x-2", "",
                         {"Origin: https://evil.example", "Sec-Fetch-Site: cross-site"})
                ->status,
            200);
}

TEST(Auth, TokensAndBasicAuthWithRoles) {
  TempDir dir;
  ServerProcess server(dir.path() / "data", R"(auth:
  tokens:
    - {name: writer, token: "writer-token-0123456789", roles: [ingest]}
    - {name: auditor, token: "auditor-token-0123456789", roles: [read]}
  users:
    - {name: filebeat, password: "filebeat-password", roles: [ingest]}
)");
  server.start();
  const std::string u = server.http_url();
  const std::string body = prediction_line("auth-1") + "\n";
  auto anonymous = http_request("POST", u + "/v1/predictions", body);
  EXPECT_EQ(anonymous->status, 401);
  EXPECT_NE(anonymous->header("www-authenticate").find("realm=\"verity\""), std::string::npos);
  EXPECT_EQ(http_request("POST", u + "/v1/predictions", body,
                         {"Authorization: Bearer wrong-token-0123456789"})
                ->status,
            401);
  EXPECT_EQ(http_request("POST", u + "/v1/predictions", body,
                         {"Authorization: Bearer auditor-token-0123456789"})
                ->status,
            403);
  auto ok = http_request("POST", u + "/v1/predictions", body,
                         {"Authorization: Bearer writer-token-0123456789"});
  EXPECT_EQ(ok->status, 200) << ok->body;
  // Basic auth (base64 of filebeat:filebeat-password) for Elasticsearch clients.
  EXPECT_EQ(http_request("GET", u + "/", "",
                         {"Authorization: Basic ZmlsZWJlYXQ6ZmlsZWJlYXQtcGFzc3dvcmQ="})
                ->status,
            200);
  EXPECT_EQ(http_request("GET", u + "/", "", {"Authorization: Basic ZmlsZWJlYXQ6d3Jvbmc="})->status,
            401);
  // Reads need the read role; health checks need nothing.
  EXPECT_EQ(http_request("GET", u + "/v1/predictions/auth-1", "",
                         {"Authorization: Bearer writer-token-0123456789"})
                ->status,
            403);
  EXPECT_EQ(http_request("GET", u + "/v1/predictions/auth-1", "",
                         {"Authorization: Bearer auditor-token-0123456789"})
                ->status,
            200);
  EXPECT_EQ(http_request("GET", u + "/metrics")->status, 401);
  EXPECT_EQ(http_request("GET", u + "/healthz")->status, 200);
  EXPECT_EQ(http_request("GET", u + "/readyz")->status, 200);
  // A browser holding the credentials, sent from another site, changes nothing.
  for (const std::string& from :
       {std::string("Origin: https://evil.example"), std::string("Sec-Fetch-Site: cross-site"),
        std::string("Sec-Fetch-Site: same-site"), std::string("Origin: null")}) {
    auto forged = http_request("POST", u + "/v1/predictions", prediction_line("forged") + "\n",
                               {"Authorization: Bearer writer-token-0123456789", from});
    EXPECT_EQ(forged->status, 403) << from;
    EXPECT_NE(forged->body.find("cross_site_request"), std::string::npos) << forged->body;
  }
  EXPECT_EQ(http_request("GET", u + "/v1/predictions/forged", "",
                         {"Authorization: Bearer auditor-token-0123456789"})
                ->status,
            404);
  // The same request from this origin (the console) goes through.
  EXPECT_EQ(http_request("POST", u + "/v1/predictions", prediction_line("same-origin") + "\n",
                         {"Authorization: Bearer writer-token-0123456789", "Origin: " + u,
                          "Sec-Fetch-Site: same-origin"})
                ->status,
            200);
  // No secret reaches the log.
  const std::string log = server.log();
  for (const char* secret : {"writer-token", "auditor-token", "filebeat-password", "wrong-token"}) {
    EXPECT_EQ(log.find(secret), std::string::npos) << secret;
  }
}

}  // namespace
}  // namespace verity::testing
