// The real binary, real sockets: NDJSON over TCP in, HTTP reads and /metrics out.

#include <gtest/gtest.h>
#include <simdjson.h>

#include <sys/resource.h>

#include <algorithm>
#include <fstream>
#include <map>
#include <random>
#include <set>
#include <sstream>
#include <thread>

#include "generators.h"
#include "server_process.h"
#include "test_client.h"
#include "verity/app/http_client.h"
#include "verity/document/json_writer.h"

namespace verity::testing {
namespace {

const std::string kStored = R"(verity_ingest_events_stored_total{input="tcp"})";
const std::string kReceived = R"(verity_ingest_events_received_total{input="tcp"})";
const std::string kDuplicates = R"(verity_ingest_events_duplicate_total{input="tcp"})";
const std::string kConflicts =
    R"(verity_ingest_events_dead_lettered_total{input="tcp",reason="duplicate_conflict"})";

std::string rejected(const std::string& reason) {
  return R"(verity_ingest_events_rejected_total{input="tcp",reason=")" + reason + "\"}";
}

// received = stored + duplicates + dead-lettered + rejected, read from one scrape.
void expect_reconciled(const std::string& url) {
  auto res = app::http_get(url + "/metrics");
  ASSERT_TRUE(res.is_ok());
  const std::string& m = res->body;
  double rejected_sum = 0;
  for (const char* r : {"invalid_json", "missing_field", "invalid_field", "not_an_object",
                        "line_too_long", "document_too_large", "store_unavailable"}) {
    rejected_sum += metric_value(m, rejected(r)).value_or(0);
  }
  const double received = metric_value(m, kReceived).value_or(0);
  const double accounted = metric_value(m, kStored).value_or(0) +
                           metric_value(m, kDuplicates).value_or(0) +
                           metric_value(m, kConflicts).value_or(0) + rejected_sum;
  EXPECT_EQ(received, accounted) << m;
}

void expect_stored(const ServerProcess& s, const std::string& id) {
  auto res = app::http_get(s.http_url() + "/v1/predictions/" + id);
  ASSERT_TRUE(res.is_ok());
  ASSERT_EQ(res->status, 200) << id << ": " << res->body;
  EXPECT_NE(res->body.find("\"request_id\":\"" + id + "\""), std::string::npos);
  EXPECT_NE(res->body.find("\"partition\":\"p_20261120\""), std::string::npos);
  EXPECT_NE(res->body.find("\"sequence\":"), std::string::npos);
  EXPECT_NE(res->body.find("\"ingest_time\":"), std::string::npos);
}

TEST(TcpIngest, ManyEventsOverSeveralConnectionsAreAllStoredAndRetrievable) {
  TempDir dir;
  ServerProcess server(dir.path() / "data");
  server.start();
  constexpr int kConnections = 6, kPerConnection = 700;
  std::vector<std::thread> senders;
  for (int c = 0; c < kConnections; ++c) {
    senders.emplace_back([&, c] {
      std::string data;
      for (int i = 0; i < kPerConnection; ++i) {
        data += prediction_line("c" + std::to_string(c) + "-" + std::to_string(i)) + "\n";
      }
      // Odd pieces split lines across reads.
      send_ndjson(server.tcp(), data, c % 2 == 0 ? 0 : 997);
    });
  }
  for (auto& t : senders) t.join();
  constexpr double kTotal = kConnections * kPerConnection;
  ASSERT_EQ(wait_for_metric(server.http_url(), kStored, kTotal), kTotal) << server.log();
  for (int c = 0; c < kConnections; ++c) {
    for (int i = 0; i < kPerConnection; ++i) {
      expect_stored(server, "c" + std::to_string(c) + "-" + std::to_string(i));
    }
  }
  expect_reconciled(server.http_url());
  EXPECT_EQ(server.terminate(), 0) << server.log();
}

// A point lookup runs on the I/O thread that read it, one at a time, and the others on the read
// pool. From many clients at once, while a stream is ingested, each lookup of a generated id (every
// detector's shape, UUIDs, spaces, ':' and '@') gets its own answer (its id's record, or 404) and
// exactly one entry in the read audit, under that id.
TEST(TcpIngest, ConcurrentLookupsWhileIngestingAreEachAnsweredAndAuditedOnce) {
  TempDir dir;
  ServerProcess server(dir.path() / "data");
  server.start();
  constexpr size_t kStoredIds = 300, kAbsentIds = 50;
  constexpr int kClients = 6, kPerClient = 40;
  std::mt19937_64 gen(1204);
  std::set<std::string> seen;
  std::vector<std::string> stored_ids, absent_ids;
  while (stored_ids.size() + absent_ids.size() < kStoredIds + kAbsentIds) {
    std::string id = generated_id(gen);
    if (id.find('/') != std::string::npos || !seen.insert(id).second) continue;  // a path
    (stored_ids.size() < kStoredIds ? stored_ids : absent_ids).push_back(std::move(id));
  }
  const std::string rest = prediction_line("").substr(std::string(R"({"request_id":"")").size());
  std::string data;
  for (const auto& id : stored_ids) {
    std::string line = R"({"request_id":)";
    document::append_json_string(line, id);
    data += line + rest + "\n";
  }
  send_ndjson(server.tcp(), data);
  ASSERT_EQ(wait_for_metric(server.http_url(), kStored, kStoredIds), kStoredIds) << server.log();

  std::thread more([&] {
    TcpClient c(server.tcp());
    for (int i = 0; i < 400; ++i) {
      std::string lines;
      for (int j = 0; j < 10; ++j)
        lines += prediction_line("m" + std::to_string(i * 10 + j)) + "\n";
      c.send(lines);
    }
    c.finish();
  });
  std::vector<std::map<std::string, int>> asked(kClients);
  std::vector<std::string> wrong(kClients);
  std::vector<std::thread> clients;
  for (int c = 0; c < kClients; ++c) {
    clients.emplace_back([&, c] {
      std::mt19937 rng(c);
      for (int k = 0; k < kPerClient; ++k) {
        const bool stored = rng() % 3 != 0;
        const std::string& id =
            stored ? stored_ids[rng() % stored_ids.size()] : absent_ids[rng() % absent_ids.size()];
        ++asked[c][id];
        auto res =
            app::http_get(server.http_url() + "/v1/predictions/" + app::url_encode_segment(id));
        std::string_view answered_id, link;
        simdjson::dom::parser p;
        const bool right =
            res.is_ok() && res->status == (stored ? 200 : 404) &&
            (!stored ||
             (!p.parse(res->body)["request_id"].get_string().get(answered_id) &&
              answered_id == id && !p.parse(res->body)["chain_link"].get_string().get(link)));
        if (!right)
          wrong[c] += id + ": " + (res.is_ok() ? res->body : res.status().message()) + "\n";
      }
    });
  }
  for (auto& t : clients) t.join();
  more.join();
  for (const auto& w : wrong) EXPECT_EQ(w, "");

  auto trail = app::http_get(server.http_url() + "/v1/audit?kind=read&limit=10000");
  ASSERT_TRUE(trail.is_ok());
  ASSERT_EQ(trail->status, 200);
  std::map<std::string, int> audited, all;
  int gets = 0;
  simdjson::dom::parser p;
  simdjson::dom::array entries;
  ASSERT_EQ(p.parse(trail->body)["entries"].get_array().get(entries), simdjson::SUCCESS);
  for (simdjson::dom::element e : entries) {
    std::string_view endpoint;
    if (e["endpoint"].get_string().get(endpoint) || endpoint != "get") continue;
    ++gets;
    simdjson::dom::array ids;
    ASSERT_EQ(e["request_ids"].get_array().get(ids), simdjson::SUCCESS);
    for (simdjson::dom::element id : ids) ++audited[std::string(id.get_string().value())];
  }
  EXPECT_EQ(gets, kClients * kPerClient);
  for (const auto& a : asked) {
    for (const auto& [id, n] : a) all[id] += n;
  }
  EXPECT_EQ(audited, all);
  EXPECT_EQ(server.terminate(), 0) << server.log();
}

TEST(TcpIngest, BadLinesAreRejectedAloneAndCountersReconcile) {
  TempDir dir;
  ServerProcess server(dir.path() / "data", "inputs: {tcp: {max_line: 2KiB}}");
  server.start();
  std::string data;
  data += prediction_line("g1") + "\n";
  data += "{\"request_id\":\"broken\",\n";  // invalid JSON
  data += prediction_line("g2") + "\r\n";   // CRLF
  data += R"({"@timestamp":"2026-11-20T10:30:00Z","model_name":"m"})"
          "\n";                           // no request id
  data += std::string(5000, 'x') + "\n";  // too long
  data += "\n";                           // blank: ignored
  data += R"({"request_id":"bad-ts","@timestamp":"tuesday","model_name":"m"})"
          "\n";
  data += "[1,2,3]\n";
  data += prediction_line("g3");  // no final newline: still a line at end of stream
  send_ndjson(server.tcp(), data, 61);

  ASSERT_EQ(wait_for_metric(server.http_url(), kStored, 3), 3) << server.log();
  ASSERT_EQ(wait_for_metric(server.http_url(), rejected("not_an_object"), 1), 1);
  EXPECT_EQ(scrape(server.http_url(), kReceived), 8);
  EXPECT_EQ(scrape(server.http_url(), rejected("invalid_json")), 1);
  EXPECT_EQ(scrape(server.http_url(), rejected("missing_field")), 1);
  EXPECT_EQ(scrape(server.http_url(), rejected("line_too_long")), 1);
  EXPECT_EQ(scrape(server.http_url(), rejected("invalid_field")), 1);
  for (const char* id : {"g1", "g2", "g3"}) expect_stored(server, id);
  expect_reconciled(server.http_url());

  // The same connection-level stream keeps working after a too-long line.
  TcpClient c(server.tcp());
  c.send(std::string(3000, 'y') + "\n" + prediction_line("after-long") + "\n");
  ASSERT_TRUE(c.finish());
  ASSERT_EQ(wait_for_metric(server.http_url(), kStored, 4), 4);
  expect_stored(server, "after-long");
  expect_reconciled(server.http_url());
  // Reasons in the log never carry payload values.
  EXPECT_EQ(server.log().find("tuesday"), std::string::npos);
}

TEST(TcpIngest, ReplaysAreIdempotentAndConflictsAreDeadLettered) {
  TempDir dir;
  ServerProcess server(dir.path() / "data");
  server.start();
  std::string data;
  for (int i = 0; i < 50; ++i) data += prediction_line("r" + std::to_string(i)) + "\n";
  send_ndjson(server.tcp(), data);
  ASSERT_EQ(wait_for_metric(server.http_url(), kStored, 50), 50);
  send_ndjson(server.tcp(), data);
  ASSERT_EQ(wait_for_metric(server.http_url(), kDuplicates, 50), 50);
  send_ndjson(server.tcp(), prediction_line("r7", "2026-11-20T11:00:00Z") + "\n");
  ASSERT_EQ(wait_for_metric(server.http_url(), kConflicts, 1), 1);
  EXPECT_EQ(scrape(server.http_url(), kStored), 50);
  auto original = app::http_get(server.http_url() + "/v1/predictions/r7");
  ASSERT_TRUE(original.is_ok());
  EXPECT_NE(original->body.find("2026-11-20T10:30:00Z"), std::string::npos);
  expect_reconciled(server.http_url());
}

TEST(TcpIngest, OneStreamKeepsItsOrderWhileItsReadsAreDecodedInParallel) {
  // Reads of one connection are decoded on several threads; they are committed in stream order,
  // so of two different documents under one request id the first sent is the one stored.
  TempDir dir;
  ServerProcess server(dir.path() / "data");
  server.start();
  constexpr int kIds = 2000;
  std::string data;
  for (int i = 0; i < kIds; ++i) {
    // The second document under the id comes a read or two after the first (reads of ~1 KB).
    data += prediction_line("o" + std::to_string(i), "2026-11-20T10:30:00Z") + "\n";
    for (int k = 0; k < 3; ++k) {
      data += prediction_line("pad-" + std::to_string(i) + "-" + std::to_string(k)) + "\n";
    }
    data += prediction_line("o" + std::to_string(i), "2026-11-20T11:45:00Z") + "\n";
  }
  send_ndjson(server.tcp(), data, 1000);
  ASSERT_EQ(wait_for_metric(server.http_url(), kConflicts, kIds), kIds);
  EXPECT_EQ(scrape(server.http_url(), kStored), 4 * kIds);
  for (int i = 0; i < kIds; i += 4) {
    auto got = app::http_get(server.http_url() + "/v1/predictions/o" + std::to_string(i));
    ASSERT_TRUE(got.is_ok());
    EXPECT_NE(got->body.find("2026-11-20T10:30:00Z"), std::string::npos) << got->body;
  }
  expect_reconciled(server.http_url());
}

TEST(TcpIngest, KillNineAfterStoredLosesNothing) {
  TempDir dir;
  ServerProcess server(dir.path() / "data");
  server.start();
  constexpr int kEvents = 3000;
  std::string data;
  for (int i = 0; i < kEvents; ++i) data += prediction_line("k" + std::to_string(i)) + "\n";
  send_ndjson(server.tcp(), data, 4096);
  ASSERT_EQ(wait_for_metric(server.http_url(), kStored, kEvents), kEvents);
  server.kill9();

  server.start();
  for (int i = 0; i < kEvents; ++i) expect_stored(server, "k" + std::to_string(i));
  // Replaying after the restart is recognised as duplicates: the index survived too.
  send_ndjson(server.tcp(), data);
  ASSERT_EQ(wait_for_metric(server.http_url(), kDuplicates, kEvents), kEvents);
  EXPECT_EQ(scrape(server.http_url(), kStored), 0);
  EXPECT_EQ(server.terminate(), 0);
}

TEST(TcpIngest, SigtermCommitsWhatWasReadThenExitsZero) {
  TempDir dir;
  ServerProcess server(dir.path() / "data", "store: {sync: none}");
  server.start();
  constexpr int kEvents = 2000;
  std::string data;
  for (int i = 0; i < kEvents; ++i) data += prediction_line("t" + std::to_string(i)) + "\n";
  TcpClient c(server.tcp());
  c.send(data);
  // Once every line has been read (received), SIGTERM must still commit all of them.
  ASSERT_EQ(wait_for_metric(server.http_url(), kReceived, kEvents), kEvents);
  EXPECT_EQ(server.terminate(), 0) << server.log();
  server.start();
  for (int i = 0; i < kEvents; ++i) expect_stored(server, "t" + std::to_string(i));
}

TEST(TcpIngest, ConnectionLimitAndIdleTimeout) {
  TempDir dir;
  ServerProcess server(dir.path() / "data",
                       "inputs: {tcp: {max_connections: 2, idle_timeout: 300ms}}");
  server.start();
  TcpClient a(server.tcp()), b(server.tcp());
  a.send(prediction_line("a1") + "\n");
  b.send(prediction_line("b1") + "\n");
  ASSERT_EQ(wait_for_metric(server.http_url(), kStored, 2), 2);
  TcpClient third(server.tcp());
  EXPECT_TRUE(third.closed_by_server(std::chrono::milliseconds(5000)));
  EXPECT_EQ(scrape(server.http_url(), R"(verity_ingest_connections_refused_total{input="tcp"})"),
            1);
  // Silent connections are closed after the idle timeout.
  EXPECT_TRUE(a.closed_by_server(std::chrono::milliseconds(10'000)));
  EXPECT_TRUE(b.closed_by_server(std::chrono::milliseconds(10'000)));
  EXPECT_EQ(wait_for_metric(server.http_url(), R"(verity_ingest_connections{input="tcp"})", 0), 0);
}

// The soft limit on open files (1024 in a login shell) would cap the table files RocksDB keeps
// open: the server raises it to the hard limit, and stays within a hard limit it cannot raise.
TEST(TcpIngest, ServerRaisesItsOpenFileLimitToTheHardLimit) {
  auto limits_of = [](pid_t pid) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/limits");
    for (std::string line; std::getline(in, line);) {
      if (line.rfind("Max open files", 0) != 0) continue;
      std::istringstream fields(line.substr(std::string("Max open files").size()));
      std::string soft, hard;
      fields >> soft >> hard;
      return std::make_pair(soft, hard);
    }
    return std::make_pair(std::string(), std::string());
  };
  TempDir dir;
  ServerProcess server(dir.path() / "data");
  // Started with a soft limit below this process's hard limit (which it may not raise).
  rlimit r{};
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &r), 0);
  const std::string hard =
      r.rlim_max == RLIM_INFINITY ? std::string("unlimited") : std::to_string(r.rlim_max);
  const rlim_t low = r.rlim_max == RLIM_INFINITY ? 300 : std::min<rlim_t>(300, r.rlim_max / 2);
  server.set_wrapper({"prlimit", "--nofile=" + std::to_string(low) + ":" + hard, "--"});
  server.start();
  EXPECT_EQ(limits_of(server.pid()), std::make_pair(hard, hard));
  send_ndjson(server.tcp(),
              R"({"request_id":"fd-1","@timestamp":"2026-11-20T10:00:00Z","model_name":"m"})"
              "\n");
  EXPECT_EQ(wait_for_metric(server.http_url(), kStored, 1), 1);
  expect_stored(server, "fd-1");
  EXPECT_EQ(server.terminate(), 0);
}

TEST(HttpApi, HealthReadinessAndErrors) {
  TempDir dir;
  ServerProcess server(dir.path() / "data");
  server.start();
  auto health = app::http_get(server.http_url() + "/healthz");
  ASSERT_TRUE(health.is_ok());
  EXPECT_EQ(health->status, 200);
  auto ready = app::http_get(server.http_url() + "/readyz");
  EXPECT_EQ(ready->status, 200);
  EXPECT_NE(ready->body.find("ready"), std::string::npos);
  auto missing = app::http_get(server.http_url() + "/v1/predictions/none");
  EXPECT_EQ(missing->status, 404);
  EXPECT_EQ(
      missing->body,
      R"({"error":{"root_cause":[{"type":"not_found","reason":"no prediction is stored under this request id"}],)"
      R"("type":"not_found","reason":"no prediction is stored under this request id"},"status":404})");
  auto unknown = app::http_get(server.http_url() + "/nope");
  EXPECT_EQ(unknown->status, 404);
  EXPECT_NE(unknown->body.find("\"error\""), std::string::npos);
  auto metrics = app::http_get(server.http_url() + "/metrics");
  EXPECT_EQ(metrics->status, 200);
  EXPECT_NE(metrics->body.find("verity_store_commit_latency_seconds_bucket"), std::string::npos);
  // An id with characters that need escaping in a URL round-trips.
  send_ndjson(server.tcp(), prediction_line("a/b c?d") + "\n");
  ASSERT_EQ(wait_for_metric(server.http_url(), kStored, 1), 1);
  auto odd = app::http_get(server.http_url() + "/v1/predictions/a%2Fb%20c%3Fd");
  EXPECT_EQ(odd->status, 200) << odd->body;
}

}  // namespace
}  // namespace verity::testing
