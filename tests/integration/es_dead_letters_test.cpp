// Dead letters forwarded to Elasticsearch, with the real binary and the strict fake
// (tests/support/fake_es.h): bad lines sent over TCP arrive in the dead-letter data stream, one
// document per dead letter, masked (raw PII never reaches the sink), with the fields the Kibana
// dashboards use, as many as /metrics counts; an outage loses and duplicates nothing; a kill -9
// between deliveries duplicates nothing.

#include <gtest/gtest.h>
#include <simdjson.h>

#include <map>
#include <set>

#include "fake_es.h"
#include "server_process.h"
#include "test_client.h"
#include "verity/core/sha256.h"
#include "verity/core/time_format.h"

namespace verity::testing {
namespace {

constexpr const char* kStream = "logs-verity.deadletters-default/";
const std::string kEmail = "alice.secret@example.com";
const std::string kSsn = "123-45-6789";

std::string config_for(const FakeElasticsearch& es) {
  return "inputs:\n  tcp:\n    max_line: 4KiB\noutputs:\n  elasticsearch:\n    hosts: [" +
         es.url() +
         "]\n    flush_interval: 200ms\n    initial_backoff: 50ms\n    max_backoff: 500ms\n";
}

// The dead-letter documents in the fake, by _id.
std::map<std::string, std::string> dead_letters(const FakeElasticsearch& es) {
  std::map<std::string, std::string> out;
  for (const auto& [key, doc] : es.documents()) {
    if (key.rfind(kStream, 0) == 0) out[key.substr(std::string(kStream).size())] = doc;
  }
  return out;
}
size_t wait_for_dead_letters(const FakeElasticsearch& es, size_t n) {
  wait_until([&] { return dead_letters(es).size() >= n; });
  return dead_letters(es).size();
}
size_t predictions(const FakeElasticsearch& es) {
  size_t n = 0;
  for (const auto& [key, doc] : es.documents()) {
    n += key.rfind("logs-verity.predictions-default/", 0) == 0 ? 1 : 0;
  }
  return n;
}

// Rejected (by reason) and dead-lettered (conflicts) events of the TCP input, from /metrics.
double rejected_on_tcp(const std::string& url) {
  double n = scrape(
      url, R"(verity_ingest_events_dead_lettered_total{input="tcp",reason="duplicate_conflict"})");
  for (const char* reason :
       {"invalid_json", "missing_field", "not_an_object", "line_too_long", "invalid_field"}) {
    n += scrape(url, std::string(R"(verity_ingest_events_rejected_total{input="tcp",reason=")") +
                         reason + "\"}");
  }
  return n;
}

// Bad lines of every kind, each carrying raw PII, and `good` predictions; the number of bad ones.
int bad_and_good_lines(std::string& out, int rounds, int good, const std::string& prefix) {
  int bad = 0;
  for (int i = 0; i < rounds; ++i) {
    const std::string n = std::to_string(i);
    out += "not json " + kEmail + " " + kSsn + "\n";  // invalid_json: length and digest only
    out += R"({"@timestamp":"2026-11-20T10:30:00Z","model_name":"fraud","inputs":{"email":")" +
           kEmail + R"(","ssn":")" + kSsn + R"("}})" + "\n";  // no request id: missing_field
    out += R"({"request_id":")" + prefix + "nomodel-" + n +
           R"(","@timestamp":"2026-11-20T10:30:00Z","inputs":{"contact":")" + kEmail + R"("}})" +
           "\n";                                                       // no model: missing_field
    out += "[\"" + kSsn + "\"]\n";                                     // not_an_object
    out += "{\"pad\":\"" + std::string(5000, 'x') + kEmail + "\"}\n";  // line_too_long
    bad += 5;
  }
  for (int i = 0; i < good; ++i) out += prediction_line(prefix + "ok-" + std::to_string(i)) + "\n";
  return bad;
}

TEST(EsDeadLetters, BadLinesArriveMaskedOnePerDeadLetterAndAsManyAsMetricsCount) {
  FakeElasticsearch es;
  TempDir dir;
  ServerProcess server(dir.path() / "data", config_for(es));
  server.start();
  std::string in;
  const int bad = bad_and_good_lines(in, 2, 3, "a-");
  // A different document under a stored request id: duplicate_conflict.
  const std::string conflict = R"({"request_id":"a-ok-0","@timestamp":"2026-11-20T10:30:00Z",)"
                               R"("model_name":"fraud","inputs":{"email":")" +
                               kEmail + R"("},"prediction":{"label":"other"}})";
  send_ndjson(server.tcp(), in);
  // Stored first (two connections commit in no set order), so that the conflict is this one.
  ASSERT_EQ(
      wait_for_metric(server.http_url(), R"(verity_ingest_events_stored_total{input="tcp"})", 3),
      3);
  send_ndjson(server.tcp(), conflict + "\n");
  const int expected = bad + 1;
  ASSERT_EQ(wait_for_at_least(server.http_url(),
                              "verity_ingest_events_received_total{input=\"tcp\"}", expected + 3),
            expected + 3);
  EXPECT_EQ(wait_for_dead_letters(es, static_cast<size_t>(expected)),
            static_cast<size_t>(expected));
  EXPECT_EQ(wait_for_metric(server.http_url(),
                            R"(verity_shipper_dead_letters_total{outcome="forwarded"})", expected),
            expected);
  EXPECT_EQ(rejected_on_tcp(server.http_url()), expected) << "one document per counted reject";
  EXPECT_EQ(wait_for_metric(server.http_url(), "verity_shipper_dead_letters_backlog", 0), 0);
  EXPECT_EQ(wait_until([&] { return predictions(es) == 3; }), true);

  // Raw PII is nowhere at the sink: not in a dead letter, not in a prediction.
  for (const auto& [key, doc] : es.documents()) {
    EXPECT_EQ(doc.find(kEmail), std::string::npos) << key;
    EXPECT_EQ(doc.find(kSsn), std::string::npos) << key;
  }
  std::map<std::string, int> by_type;
  simdjson::dom::parser p, q;
  for (const auto& [id, doc] : dead_letters(es)) {
    SCOPED_TRACE(doc);
    simdjson::dom::element d = p.parse(doc);
    const std::string type{std::string_view(d["error"]["type"])};
    ++by_type[type];
    EXPECT_EQ(id, "dl-" + std::to_string(uint64_t(d["verity"]["sequence"])));
    EXPECT_EQ(std::string_view(d["verity"]["input"]), "tcp");
    EXPECT_EQ(std::string_view(d["event"]["dataset"]), "verity.deadletters");
    EXPECT_GT(uint64_t(d["verity"]["line"]), 0u);
    EXPECT_GT(uint64_t(d["verity"]["raw_length"]), 0u);
    const std::string message{std::string_view(d["error"]["message"])};
    EXPECT_EQ(message.rfind("line " + std::to_string(uint64_t(d["verity"]["line"])) + ":", 0), 0u);
    EXPECT_TRUE(parse_rfc3339(std::string_view(d["@timestamp"])).is_ok());
    std::string_view original;
    const bool has_original =
        d["event"]["original"].get_string().get(original) == simdjson::SUCCESS;
    if (type == "invalid_json" || type == "not_an_object") {
      EXPECT_FALSE(has_original) << "unparseable: kept as length and digest only";
      // The digest of the raw line, which the sender can recompute.
      const std::string raw =
          type == "invalid_json" ? "not json " + kEmail + " " + kSsn : "[\"" + kSsn + "\"]";
      EXPECT_EQ(std::string_view(d["verity"]["raw_sha256"]), sha256_hex(raw));
      EXPECT_EQ(uint64_t(d["verity"]["raw_length"]), raw.size());
    } else if (type == "line_too_long") {
      EXPECT_FALSE(has_original);
    } else {
      ASSERT_TRUE(has_original) << type;
      simdjson::dom::element o;
      ASSERT_EQ(q.parse(original).get(o), simdjson::SUCCESS) << "the masked document, as JSON text";
      EXPECT_NE(original.find("hmac:"), std::string_view::npos) << "masked by the detectors";
    }
    if (type == "duplicate_conflict") {
      EXPECT_EQ(std::string_view(d["verity"]["request_id"]), "a-ok-0");
    }
  }
  EXPECT_EQ(by_type, (std::map<std::string, int>{{"duplicate_conflict", 1},
                                                 {"invalid_json", 2},
                                                 {"line_too_long", 2},
                                                 {"missing_field", 4},
                                                 {"not_an_object", 2}}));
}

TEST(EsDeadLetters, AnOutageKeepsThemWaitingThenDeliversEachOnce) {
  FakeElasticsearch es;
  TempDir dir;
  ServerProcess server(dir.path() / "data", config_for(es));
  // The server's ports are chosen while the fake holds its own (a port the fake frees could be
  // picked), and the fake goes down with no connection open to it: a restart keeps the ports.
  server.start();
  ASSERT_EQ(server.terminate(), 0);
  es.go_down();
  server.start();
  std::string in;
  const int bad = bad_and_good_lines(in, 10, 20, "o-");
  send_ndjson(server.tcp(), in);
  EXPECT_EQ(wait_for_metric(server.http_url(), "verity_shipper_dead_letters_backlog", bad), bad);
  EXPECT_GE(wait_for_at_least(server.http_url(),
                              R"(verity_shipper_bulk_requests_total{outcome="retryable"})", 2),
            2);
  EXPECT_EQ(scrape(server.http_url(), R"(verity_shipper_dead_letters_total{outcome="forwarded"})"),
            0);
  es.come_back();
  EXPECT_EQ(wait_for_dead_letters(es, static_cast<size_t>(bad)), static_cast<size_t>(bad));
  EXPECT_TRUE(wait_until([&] { return predictions(es) == 20; }));
  EXPECT_EQ(wait_for_metric(server.http_url(), "verity_shipper_dead_letters_backlog", 0), 0);
  EXPECT_EQ(wait_for_metric(server.http_url(), R"(verity_shipper_backlog{unit="events"})", 0), 0);
  EXPECT_EQ(rejected_on_tcp(server.http_url()), bad);
  const auto st = es.stats();
  EXPECT_EQ(st.item_status.at(201), static_cast<uint64_t>(bad + 20));
  EXPECT_EQ(st.item_status.count(409), 0u) << "nothing was sent twice after it was delivered";
  EXPECT_EQ(scrape(server.http_url(), R"(verity_shipper_dead_letters_total{outcome="refused"})"),
            0);
}

TEST(EsDeadLetters, KillNineBetweenDeliveriesDuplicatesNothing) {
  FakeElasticsearch es;
  es.set_delay(std::chrono::milliseconds(1500));
  TempDir dir;
  ServerProcess server(dir.path() / "data", config_for(es));
  server.start();
  std::string in;
  const int bad = bad_and_good_lines(in, 80, 0, "k-");
  send_ndjson(server.tcp(), in);
  ASSERT_EQ(
      wait_for_metric(server.http_url(), "verity_ingest_events_received_total{input=\"tcp\"}", bad),
      bad);
  ASSERT_TRUE(wait_until([&] { return rejected_on_tcp(server.http_url()) == bad; }))
      << "all committed before the kill";
  // The first request is in the fake (stored, its answer delayed) when the server dies.
  ASSERT_TRUE(wait_until([&] { return !dead_letters(es).empty(); }, std::chrono::seconds(30)));
  server.kill9();
  es.set_delay(std::chrono::milliseconds(0));
  server.start();
  EXPECT_EQ(wait_for_dead_letters(es, static_cast<size_t>(bad)), static_cast<size_t>(bad));
  EXPECT_EQ(wait_for_metric(server.http_url(), "verity_shipper_dead_letters_backlog", 0), 0);
  const auto st = es.stats();
  EXPECT_EQ(st.item_status.at(201), static_cast<uint64_t>(bad)) << "each created once";
  EXPECT_GT(st.item_status.at(409), 0u) << "what was in flight was sent again: 409s";
  // The ones already there count as forwarded: nothing is refused or left behind.
  EXPECT_EQ(scrape(server.http_url(), R"(verity_shipper_dead_letters_total{outcome="refused"})"),
            0);
  EXPECT_EQ(es.document_count(), static_cast<size_t>(bad));
}

}  // namespace
}  // namespace verity::testing
